"""SQLite with writers that take turns (see base.py)."""
