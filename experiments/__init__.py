"""The studies of docs/experiments.md: their scripts and archived runs."""
