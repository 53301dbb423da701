"""Usage records (数据使用记录): each use of granted data, as a data-sharing gateway logs it.

The grantee signs each record itself (its registered key: the server holds no secret of
it), a gateway posts them in batches of up to :data:`MAX_BATCH`, and they are accepted into
the ledger's queue (``ledger.services.submit``: signatures checked by the request workers)
and integrated in batches after the commit. A record is a statement of kind ``usage.*``
whose subject is the grant it uses (``contracts/grant/<id>``); the entry is the record.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from contracts.models import Grant
from kernel.errors import InvalidInput, NotPermitted
from ledger import services as ledger
from ledger.errors import AppendRefused
from operators import authz
from operators.models import Status

KIND_PREFIX = "usage."
MAX_BATCH = 256
_GRANT = "contracts/grant/"


def _shape(submissions: Sequence[ledger.Submission]) -> None:
    if not 0 < len(submissions) <= MAX_BATCH:
        raise InvalidInput("statements", f"must hold 1 to {MAX_BATCH} signed records")
    for index, sub in enumerate(submissions):
        statement = sub.statement
        if not isinstance(statement, dict):
            raise InvalidInput(f"statements[{index}].statement", "must be a JSON object")
        kind, subject = statement.get("kind"), statement.get("subject")
        if not isinstance(kind, str) or not kind.startswith(KIND_PREFIX):
            raise InvalidInput(f"statements[{index}].statement.kind",
                               f"a usage record's kind starts with {KIND_PREFIX!r}")
        if not isinstance(subject, str) or not subject.startswith(_GRANT) or \
                not subject[len(_GRANT):].isdigit():
            raise InvalidInput(f"statements[{index}].statement.subject",
                               f"must name the grant used, {_GRANT}<id>")


def _check_grants(by: authz.User, submissions: Sequence[ledger.Submission]) -> None:
    """Every record is by a participant the user acts for, about an active grant it holds."""
    actors = {str(sub.statement.get("actor")) for sub in submissions}
    mine = {p.code for p in authz.participants(by)
            if p.code in actors and p.status == Status.ADMITTED}
    wanted = {int(sub.statement["subject"][len(_GRANT):]) for sub in submissions}
    held = dict(Grant.objects.filter(pk__in=wanted, state=Grant.State.ACTIVE)
                .values_list("pk", "grantee__code"))
    for index, sub in enumerate(submissions):
        actor = sub.statement.get("actor")
        if actor not in mine:
            raise NotPermitted(f"statements[{index}]: you do not act for {actor!r}")
        grant = int(sub.statement["subject"][len(_GRANT):])
        if held.get(grant) != actor:
            raise InvalidInput(f"statements[{index}].statement.subject",
                               f"grant {grant} is not an active grant of {actor}")


def submit_usage(*, by: authz.User, submissions: Sequence[ledger.Submission]) -> list[int]:
    """Accept a batch of signed usage records; their queue ids (``ledger.queue``)."""
    if not by.is_authenticated:
        raise NotPermitted("sign in first")
    _shape(submissions)
    _check_grants(by, submissions)
    try:
        with transaction.atomic():
            return ledger.submit(submissions)
    except AppendRefused as exc:
        if exc.index is None:
            raise
        raise AppendRefused(f"statements[{exc.index}].{exc.field}", exc.reason,
                            exc.code) from None

