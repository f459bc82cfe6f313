"""conversation room."""
