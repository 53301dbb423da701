"""Verification runs started from the portal, the API or the command line."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Verification(models.Model):
    """One run of the verification core over the live database, with its progress."""

    class State(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        PASSED = "passed", "passed"
        FAILED = "failed", "failed"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL)
    acting_for = models.CharField(max_length=128, blank=True, help_text="participant code")
    first = models.BigIntegerField(default=0)
    last = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    total = models.BigIntegerField(default=0)
    done = models.BigIntegerField(default=0)
    report = models.JSONField(null=True, blank=True)
    entry_seq = models.BigIntegerField(null=True, blank=True, help_text="attestation entry")
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.done * 100 // self.total)
