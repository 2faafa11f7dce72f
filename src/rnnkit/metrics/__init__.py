"""Metrics wrapping the field's libraries (DESIGN.md layer 6)."""
