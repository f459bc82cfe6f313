"""decisions room."""
