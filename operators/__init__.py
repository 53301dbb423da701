"""Participants, memberships, registration (数商入场登记) and participant keys."""
