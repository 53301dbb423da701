"""The demo scenario behind ``manage.py load_demo``: participants, catalogue, workflows in
every state and witnesses. No production module imports it (import-linter checks this)."""
