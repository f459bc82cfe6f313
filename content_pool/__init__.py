"""Content items, their storage and sandboxed rendering."""
