"""Profiles, events, decisioning and the next action."""
