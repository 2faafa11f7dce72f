"""Metrics of the applications (DESIGN.md layer 6), wrapping the field's libraries where one exists."""
