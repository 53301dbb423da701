"""``available_actions(user, obj)``: the transitions ``user`` may take on ``obj`` now.

Each state machine's table says, per transition, who may take it and what else must hold;
the services apply the same table (``operators.transitions.take``), so a button the portal
shows, an item in the inbox and an action the API accepts are exactly what the service
would do.
"""

from __future__ import annotations

from typing import Any

from catalog.models import DataProduct, DataResource
from catalog.services import RESOURCE
from contracts.agreements import AGREEMENT
from contracts.erasure import ERASURE
from contracts.grants import GRANT
from contracts.models import (
    ErasureRequest,
    Grant,
    Objection,
    OperationAgreement,
    Order,
    SharingRequest,
)
from contracts.objections import OBJECTION
from contracts.orders import ORDER
from contracts.products import PRODUCT
from contracts.sharing import SHARING
from kernel.states import Machine
from operators.models import Participant
from operators.services import REGISTRATION

MACHINES: dict[type[Any], Machine[Any]] = {
    Participant: REGISTRATION, DataResource: RESOURCE, DataProduct: PRODUCT,
    SharingRequest: SHARING, OperationAgreement: AGREEMENT, Grant: GRANT,
    Objection: OBJECTION, Order: ORDER, ErasureRequest: ERASURE,
}


def machine_of(obj: Any) -> Machine[Any]:
    return MACHINES[type(obj)]


def available_actions(user: Any, obj: Any) -> list[str]:
    """The actions ``user`` (a person; never the platform) may take on ``obj`` now, in the
    order of its machine's table."""
    if user is None or not user.is_authenticated:
        return []
    return machine_of(obj).available(user, obj)


def may(user: Any, obj: Any, action: str) -> bool:
    return action in available_actions(user, obj)
