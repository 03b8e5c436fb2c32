"""Measurements: sizes of what the slug will hold, read from files on disk."""
