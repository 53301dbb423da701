"""Periodic workflow work (Celery beat; eager in the embedded default).

Every task is idempotent: each candidate is re-checked under a row lock inside its own
transaction, so a second run (or two workers at once) appends nothing new. Their entries
are signed by the ledger key, with the ledger's origin as actor.
"""

from __future__ import annotations

from celery import shared_task

from contracts import agreements, erasure, grants, objections, retention, selectors, sharing
from ledger import services as ledger


@shared_task(name="contracts.tasks.escalate_overdue")
def escalate_overdue() -> dict[str, int]:
    """Escalate pending sharing requests past their review deadline, objections past
    their accept or resolve deadline, and erasure requests past their decision or
    re-examination deadline."""
    ledger.ensure_ledger_key()
    requests = sum(sharing.escalate_request(request=r)
                   for r in selectors.requests_to_escalate())
    late = sum(objections.escalate_objection(objection=o)
               for o in selectors.objections_to_escalate())
    erasures = sum(erasure.escalate_erasure(request=r)
                   for r in selectors.erasures_to_escalate())
    return {"requests": requests, "objections": late, "erasures": erasures}


@shared_task(name="contracts.tasks.expire_grants")
def expire_grants() -> dict[str, int]:
    """Expire agreements after their term (with their grants), then any other grant past
    ``valid_until``; permissions are removed in the same transaction."""
    ledger.ensure_ledger_key()
    ended = sum(agreements.expire_agreement(agreement=a)
                for a in selectors.agreements_to_expire())
    expired = sum(grants.expire_grant(grant=g) for g in selectors.grants_to_expire())
    return {"agreements": ended, "grants": expired}


@shared_task(name="contracts.tasks.erase_expired_personal_information")
def erase_expired_personal_information() -> dict[str, int]:
    """Erase the personal information kept past its kind's retention period
    (``contracts.retention``), with the ledger as actor."""
    ledger.ensure_ledger_key()
    return {"erased": retention.erase_expired()}
