"""Accounts: who may sign in, and with what. Passwords (the validators on every path that sets
one), API tokens (hashed, expiring, listed and revoked by their owner, all revoked when the
password changes) and the lockout after failed sign-ins. Knows nothing of participants."""
