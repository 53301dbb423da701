"""Reads of sharing requests, agreements, grants, objections and orders."""

from __future__ import annotations

from datetime import UTC, datetime

from catalog.models import DataResource
from contracts.models import Grant
from operators.models import Participant


def active_grants(participant: Participant, resource: DataResource,
                  at: datetime | None = None):  # type: ignore[no-untyped-def]
    moment = at or datetime.now(UTC)
    return Grant.objects.filter(grantee=participant, resource=resource,
                                state=Grant.State.ACTIVE, valid_from__lte=moment,
                                valid_until__gt=moment)


def holds_grant(participant: Participant, resource: DataResource) -> bool:
    """Does ``participant`` hold a grant on ``resource`` that is active now?"""
    return active_grants(participant, resource).exists()
