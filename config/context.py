"""Template context for every portal page: navigation by role and the inbox count."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from operators import authz
from operators.models import Kind


def _link(name: str, label: str, section: str) -> dict[str, str] | None:
    try:
        return {"url": reverse(name), "label": label, "section": section}
    except NoReverseMatch:  # a page of an app that is not installed in this build
        return None


def portal(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not user.is_authenticated:
        return {"workflow_nav": [], "role_nav": []}
    kinds = authz.kinds_of(user)
    workflow = [
        _link("contracts:requests", _("Sharing"), "requests"),
        _link("contracts:agreements", _("Agreements"), "agreements"),
        _link("contracts:objections", _("Objections"), "objections"),
        _link("catalog:products", _("Market"), "market"),
    ]
    roles = []
    if kinds & {Kind.AUDITOR, Kind.AUTHORITY, Kind.REGULATOR}:
        roles.append(_link("audit:auditor", _("Audit"), "audit"))
    if kinds & {Kind.REGULATOR, Kind.AUTHORITY}:
        roles.append(_link("audit:regulator", _("Regulator"), "regulator"))
    if kinds & {Kind.AUTHORITY, Kind.REGULATOR}:
        roles.append(_link("operators:list", _("Participants"), "participants"))
    participants = list(authz.participants_of(user))
    inbox_count = 0
    try:
        from config import inbox

        inbox_count = inbox.count(user)
    except ImportError:  # the inbox arrives with the workflow pages
        pass
    return {
        "workflow_nav": [item for item in workflow if item],
        "role_nav": [item for item in roles if item],
        "acting_names": ", ".join(p.name_zh for p in participants),
        "acting_participants": participants,
        "inbox_count": inbox_count,
    }
