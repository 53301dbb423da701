"""Who may see and who may act, each decided in one place.

``policy.visibility``: who may read which object and which ledger payload; every read path
(API, portal, ledger explorer and payload endpoint, bundles, CSV exports, regulator views,
the inbox) asks it. ``policy.actions``: which transitions a user may take on an object now,
straight from the state machines' tables, which the services apply too.
"""
