"""Background audit work."""

from __future__ import annotations

from celery import shared_task

from audit import services


@shared_task(name="audit.tasks.run_verification")
def run_verification(verification_id: int) -> str:
    return str(services.run_verification(verification_id).state)
