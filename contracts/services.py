"""Every workflow transition, one function each (see the modules for the state machines).

Each function checks the actor's permission (operators.authz), changes state and appends
its ledger entry in one transaction; an illegal transition raises IllegalTransition and
changes nothing.
"""

from __future__ import annotations

from contracts.agreements import (
    create_agreement,
    expire_agreement,
    resume_agreement,
    sign_agreement,
    suspend_agreement,
    terminate_agreement,
)
from contracts.erasure import (
    appeal_erasure,
    approve_erasure,
    escalate_erasure,
    refuse_erasure,
    request_erasure,
    uphold_refusal,
    withdraw_erasure,
)
from contracts.grants import expire_grant, record_delivery, revoke_grant
from contracts.objections import (
    accept_objection,
    appeal_objection,
    close_objection,
    correct_objection,
    dismiss_objection,
    escalate_objection,
    file_objection,
    reject_objection,
    start_verification,
    uphold_objection,
)
from contracts.orders import (
    accept_delivery,
    cancel_order,
    close_order,
    deliver_order,
    dispute_delivery,
    notarise_order,
    place_order,
    settle_order,
    sign_order,
)
from contracts.sharing import (
    approve_request,
    escalate_request,
    refuse_request,
    request_sharing,
    withdraw_request,
)

__all__ = [
    "accept_delivery", "accept_objection", "appeal_erasure", "appeal_objection",
    "approve_erasure", "approve_request", "escalate_erasure", "refuse_erasure",
    "request_erasure", "uphold_refusal", "withdraw_erasure",
    "cancel_order", "close_objection", "close_order", "correct_objection",
    "create_agreement", "deliver_order", "dismiss_objection", "dispute_delivery",
    "escalate_objection", "escalate_request", "expire_agreement", "expire_grant",
    "file_objection", "notarise_order", "place_order", "record_delivery", "refuse_request",
    "reject_objection", "request_sharing", "resume_agreement", "revoke_grant",
    "settle_order", "sign_agreement", "sign_order", "start_verification",
    "suspend_agreement", "terminate_agreement", "uphold_objection", "withdraw_request",
]
