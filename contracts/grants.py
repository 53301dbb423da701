"""Grants (what, to whom, purpose, from/until), their permissions, and usage records.

A grant is created inside the transition that approves it (a sharing approval, the second
signature of an agreement), and described in that transition's entry. Its
``catalog.view_restricted`` permission for the grantee's group follows its state at once:
given while any active, unexpired grant of the grantee covers the resource, removed when
the last one is revoked, suspended or expires.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from catalog import access
from catalog.models import DataItem, DataResource
from contracts import common, desensitisation, selectors
from contracts.deliveries import delivered_digest
from contracts.models import Delivery, Grant, OperationAgreement, SharingRequest
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from kernel.states import Machine, Transition
from kernel.text import required_text
from kernel.times import local
from kernel.uploads import table_rows
from ledger import services as ledger
from operators import capabilities
from operators.models import Participant
from operators.transitions import Recorded, lock, platform, take

S = Grant.State


def _revoker(by: common.User | None, grant: Grant) -> Participant:
    """The resource's provider (a manager of it) or the data authority revokes a grant."""
    if by is not None and access.can_manage(by, grant.resource):
        provider = capabilities.acts_for(by, grant.resource.provider)
        if provider is not None:
            return provider
    authority = capabilities.reviewing_authority(by)
    if authority is not None:
        return authority
    raise NotPermitted(_("only the resource's provider or the data authority revokes a grant"))


# Suspension, resumption and expiry follow the grant's agreement or its period: the
# platform takes them (an agreement's own entry lists what happened to its grants).
GRANT: Machine[Grant] = Machine("grant", [
    Transition("revoke", (S.ACTIVE, S.SUSPENDED), S.REVOKED, _revoker),
    Transition("expire", (S.ACTIVE, S.SUSPENDED), S.EXPIRED, platform),
    Transition("suspend", (S.ACTIVE,), S.SUSPENDED, platform),
    Transition("resume", (S.SUSPENDED,), S.ACTIVE, platform),
])
RECORDED: Recorded[Grant] = Recorded(
    kind=lambda action: f"contracts.grant.{'revoked' if action == 'revoke' else 'expired'}",
    subject=lambda g: subject(g), payload=lambda g: payload(g),
    related=("grantee", "resource__provider"))


def subject(grant: Grant) -> str:
    return f"contracts/grant/{grant.pk}"


def payload(grant: Grant) -> dict[str, Any]:
    return {
        "grant": grant.pk, "grantee": grant.grantee.code, "resource": grant.resource.code,
        "items": common.item_names(grant.items.all()), "purpose": grant.purpose,
        "valid_from": common.when(grant.valid_from),
        "valid_until": common.when(grant.valid_until), "state": grant.state,
    }


def create(*, grantee: Participant, resource: DataResource, items: Iterable[DataItem],
           purpose: str, valid_from: datetime, valid_until: datetime,
           sharing_request: SharingRequest | None = None,
           agreement: OperationAgreement | None = None) -> Grant:
    """A new active grant and its permission (call inside the approving transaction)."""
    grant = Grant.objects.create(
        grantee=grantee, resource=resource, purpose=purpose, valid_from=valid_from,
        valid_until=valid_until, sharing_request=sharing_request, agreement=agreement,
    )
    grant.items.set(list(items))
    sync_permission(grantee, resource)
    return grant


def sync_permission(participant: Participant, resource: DataResource) -> None:
    """Give or remove the grantee's restricted view to match its usable grants now."""
    if selectors.usable_grants(participant, resource).exists():
        access.grant_restricted_view(participant, resource)
    else:
        access.revoke_restricted_view(participant, resource)


def move(grants: Iterable[Grant], action: str, reason: str = "") -> list[dict[str, Any]]:
    """Move grants (already locked) through ``action``; their permissions follow. For
    transitions of an agreement, whose entry lists what happened to each grant."""
    done = []
    for grant in grants:
        grant.state = GRANT.check(grant.state, action)
        grant.reason = reason
        grant.save(update_fields=["state", "reason"])
        sync_permission(grant.grantee, grant.resource)
        done.append({"grant": grant.pk, "grantee": grant.grantee.code,
                     "resource": grant.resource.code, "state": grant.state})
    return done


def _follow_permission(grant: Grant, actor: Any, entry: Any) -> None:
    sync_permission(grant.grantee, grant.resource)


def revoke_grant(*, by: common.User, grant: Grant, reason: str) -> Grant:
    """Revoke a grant at once: the next delivery under it is refused."""

    def change(locked: Grant, actor: Participant) -> dict[str, Any]:
        locked.reason = required_text("reason", reason, _("to revoke a grant"))
        return {"reason": locked.reason}

    return take(GRANT, RECORDED, grant, "revoke", by=by, change=change,
                after=_follow_permission)


def expire_grant(*, grant: Grant, at: datetime | None = None) -> bool:
    """The platform expires a grant past ``valid_until``; False if there is nothing to do."""
    moment = at or common.now()
    with transaction.atomic():
        locked = lock(grant)
        if locked.state not in (S.ACTIVE, S.SUSPENDED) or locked.valid_until > moment:
            return False

        def change(o: Grant, platform: Any) -> None:
            o.reason = "the grant's period ended"

        take(GRANT, RECORDED, locked, "expire", by=None, change=change,
             after=_follow_permission)
    return True


# --- usage records ------------------------------------------------------------------------


def _check_usable(grant: Grant, moment: datetime) -> None:
    if grant.state == S.REVOKED:
        raise IllegalTransition(_("grant %(grant)s was revoked: %(reason)s"), grant=grant.pk,
                                reason=grant.reason)
    if grant.state == S.EXPIRED or grant.valid_until <= moment:
        raise IllegalTransition(_("grant %(grant)s expired at %(time)s"), grant=grant.pk,
                                time=local(grant.valid_until))
    agreement = grant.agreement
    if grant.state == S.SUSPENDED or (
        agreement is not None and agreement.state != OperationAgreement.State.EFFECTIVE
    ):
        raise IllegalTransition(_("grant %(grant)s is suspended with its agreement"),
                                grant=grant.pk)
    if grant.valid_from > moment:
        raise IllegalTransition(_("grant %(grant)s is valid only from %(time)s"),
                                grant=grant.pk, time=local(grant.valid_from))


def _check_scope(grant: Grant, rules: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The rule applied per delivered item, checked (``contracts.desensitisation``), and
    the delivered items that are personal information."""
    if not isinstance(rules, Mapping) or not rules:
        raise InvalidInput("desensitisation", _("name each delivered data item and its rule"))
    catalogue = {item.name: item for item in grant.resource.items.all()}
    in_grant = set(common.item_names(grant.items.all())) or set(catalogue)
    for name, rule in rules.items():
        field = f"desensitisation[{name}]"
        if name not in catalogue:
            raise InvalidInput(field, _("is not a data item of %(code)s"),
                               code=grant.resource.code)
        if name not in in_grant:
            raise InvalidInput(field, _("is outside the scope of grant %(grant)s"),
                               grant=grant.pk)
        refused = desensitisation.refusal(catalogue[name], rule)
        if refused:
            raise InvalidInput(field, refused)
    personal = sorted(name for name in rules if catalogue[name].personal_information)
    return dict(sorted(rules.items())), personal


def deliverer(by: Any, grant: Grant) -> Participant:
    """Who records deliveries under a grant: a manager of the resource's provider."""
    provider = capabilities.acts_for(by, grant.resource.provider)
    if provider is None or not access.can_manage(by, grant.resource):
        raise NotPermitted(_("only the provider of %(code)s records deliveries"),
                           code=grant.resource.code)

    return provider


def record_delivery(*, by: common.User, grant: Grant, rows: int,
                    desensitisation: Mapping[str, str], data: bytes | None = None,
                    digest: str | None = None, data_name: str = "") -> Delivery:
    """A usage record: the provider delivered data under ``grant``; the entry holds the
    SM3 digest, row count, the desensitisation applied per item (a personal-information
    item only with the rule its resource declares), which delivered items are personal
    information, and whether the data was disputed. When the delivered file is a CSV or
    JSON table (``data_name``), the row count must be the number of rows it holds."""
    deliverer(by, grant)
    if not isinstance(rows, int) or isinstance(rows, bool) or not 0 <= rows < 2**53:
        raise InvalidInput("rows", _("must be a whole number of rows >= 0"))
    sm3 = delivered_digest(data, digest)
    counted = table_rows("data", data_name, data) if data is not None else None
    if counted is not None and counted != rows:
        raise InvalidInput("rows", _("the delivered file %(name)s holds %(n)s rows, not "
                                     "%(claimed)s"), name=data_name, n=f"{counted:,}",
                           claimed=f"{rows:,}")
    with transaction.atomic():
        locked = Grant.objects.select_for_update(of=("self",)).select_related(
            "agreement", "resource", "grantee").get(pk=grant.pk)
        _check_usable(locked, common.now())
        rules, personal = _check_scope(locked, desensitisation)
        disputed = selectors.is_disputed(locked.resource)
        entry = ledger.record(
            actor=locked.resource.provider.code, kind="contracts.delivery.recorded",
            subject=subject(locked),
            payload={"grant": locked.pk, "grantee": locked.grantee.code,
                     "resource": locked.resource.code, "version": locked.resource.version,
                     "sm3": sm3, "rows": rows, "desensitisation": rules,
                     "personal_information": personal, "disputed": disputed},
        )
        return Delivery.objects.create(grant=locked, digest=sm3, rows=rows,
                                       desensitisation=rules, disputed=disputed,
                                       entry_seq=entry.seq)
