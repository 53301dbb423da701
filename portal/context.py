"""Template context for every portal page: navigation by role and the inbox count."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from operators import authz, capabilities
from portal import inbox


def _link(name: str, label: str, section: str) -> dict[str, str]:
    return {"url": reverse(name), "label": label, "section": section}


def portal(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not user.is_authenticated:
        return {"workflow_nav": [], "role_nav": []}
    kinds = authz.kinds_of(user)
    # A data subject (an account acting for no participant) files objections and browses
    # the market; sharing and agreements are between participants.
    workflow = [
        _link("contracts:requests", _("Sharing"), "requests"),
        _link("contracts:agreements", _("Agreements"), "agreements"),
    ] if kinds else []
    workflow += [
        _link("contracts:objections", _("Objections"), "objections"),
        _link("catalog:products", _("Market"), "market"),
        _link("privacy:home", _("Privacy"), "privacy"),
    ]

    roles = []
    if kinds & capabilities.AUDIT_KINDS:
        roles.append(_link("audit:auditor", _("Audit"), "audit"))
    if kinds & capabilities.REGULATOR_KINDS:
        roles.append(_link("audit:regulator", _("Regulator"), "regulator"))
    if kinds & capabilities.DIRECTORY_NAV_KINDS:
        roles.append(_link("operators:list", _("Participants"), "participants"))
    participants = list(authz.participants(user))
    return {
        "workflow_nav": workflow,
        "role_nav": roles,
        "acting_names": ", ".join(p.name_zh for p in participants),
        "acting_participants": participants,
        "inbox_count": inbox.count(user),
    }
