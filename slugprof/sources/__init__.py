"""Readers of the app's own files: what would be pushed, and what .slugignore removes from it."""
