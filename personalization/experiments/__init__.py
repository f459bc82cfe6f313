"""experiments room."""
