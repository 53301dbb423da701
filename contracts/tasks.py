"""Periodic workflow work (Celery beat; eager in the embedded default).

Both tasks are idempotent: each candidate is re-checked under a row lock inside its own
transaction, so a second run (or two workers at once) appends nothing new. Their entries
are signed by the ledger key, with the ledger's origin as actor.
"""

from __future__ import annotations

from celery import shared_task

from contracts import agreements, grants, objections, selectors, sharing
from ledger import services as ledger


@shared_task(name="contracts.tasks.escalate_overdue")
def escalate_overdue() -> dict[str, int]:
    """Escalate pending sharing requests past their review deadline and objections past
    their accept or resolve deadline."""
    ledger.ensure_ledger_key()
    requests = sum(sharing.escalate_request(request=r)
                   for r in selectors.requests_to_escalate())
    late = sum(objections.escalate_objection(objection=o)
               for o in selectors.objections_to_escalate())
    return {"requests": requests, "objections": late}


@shared_task(name="contracts.tasks.expire_grants")
def expire_grants() -> dict[str, int]:
    """Expire agreements after their term (with their grants), then any other grant past
    ``valid_until``; permissions are removed in the same transaction."""
    ledger.ensure_ledger_key()
    ended = sum(agreements.expire_agreement(agreement=a)
                for a in selectors.agreements_to_expire())
    expired = sum(grants.expire_grant(grant=g) for g in selectors.grants_to_expire())
    return {"agreements": ended, "grants": expired}
