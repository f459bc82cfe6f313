"""Context signals, intent and micro-moment classification."""
