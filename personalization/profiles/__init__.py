"""profiles room."""
