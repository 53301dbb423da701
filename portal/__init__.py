"""The web portal: every page, the inbox, the layout, templates and static files.

Pages parse input, call one service or selector and render; who may see comes from the
visibility policy (``visibility``), which buttons a page shows from each state machine's
``available_actions``.
"""
