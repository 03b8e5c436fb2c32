"""Renderers: each turns a report into a string; the CLI decides where it goes."""
