"""Tests that run `python -m broker` as a real process: startup, command line, durability across crashes."""
