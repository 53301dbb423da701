"""Transactions on listed products (公共数据交易进场).

ordered -> contracted (buyer and seller each sign the contract with their own key; it is
contracted when both have) -> delivered (the seller records the SM3 digest of what it
delivered) -> accepted by the buyer | disputed (reason) -> settled -> closed. Either
party cancels before delivery. A notarisation (数据公证) service may notarise a contracted
order once: an entry signed by that third party.

Settlement: the seller records it after the buyer accepted; for a disputed order the data
authority decides and records it. The amount is a decimal string with two decimals and a
currency (never a float), at most the contract amount. Either party closes a settled order.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from django.db import transaction

from catalog.models import DataProduct, ProductStatus
from contracts import common
from contracts.models import Order
from crypto.canonical import canonical
from crypto.sm3 import sm3_hex
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from kernel.states import Machine
from ledger import services as ledger
from ledger.format import is_hex64
from operators import authz
from operators.models import Kind, Participant, ServiceType

S = Order.State
ORDER = Machine(
    "order",
    {
        (S.ORDERED, "sign"): S.ORDERED,
        (S.ORDERED, "countersign"): S.CONTRACTED,
        (S.CONTRACTED, "notarise"): S.CONTRACTED,
        (S.CONTRACTED, "deliver"): S.DELIVERED,
        (S.DELIVERED, "accept"): S.ACCEPTED,
        (S.DELIVERED, "dispute"): S.DISPUTED,
        (S.ACCEPTED, "settle"): S.SETTLED,
        (S.DISPUTED, "settle"): S.SETTLED,
        (S.SETTLED, "close"): S.CLOSED,
        (S.ORDERED, "cancel"): S.CANCELLED,
        (S.CONTRACTED, "cancel"): S.CANCELLED,
    },
)
BUYER_KINDS = (Kind.OPERATOR, Kind.MERCHANT)
KIND = {"sign": "signed", "countersign": "signed", "notarise": "notarised",
        "deliver": "delivered", "accept": "accepted", "dispute": "disputed",
        "settle": "settled", "close": "closed", "cancel": "cancelled"}


def subject(order: Order) -> str:
    return f"contracts/order/{order.code}"


def contract(order: Order) -> dict[str, Any]:
    """The contract both parties sign."""
    return {"order": order.code, "product": order.product.code, "buyer": order.buyer.code,
            "seller": order.seller.code, "amount": common.money_text(order.amount),
            "currency": order.currency}


def contract_sm3(order: Order) -> str:
    return sm3_hex(canonical(contract(order)))


def _payload(order: Order, **extra: Any) -> dict[str, Any]:
    return {"order": order.code, "product": order.product.code, "state": order.state,
            **extra}


def place_order(*, by: common.User, product: DataProduct,
                buyer: Participant | None = None) -> Order:
    """An operator or merchant orders a listed product at its listed price."""
    purchaser = authz.acting_for(by, buyer, kinds=BUYER_KINDS)
    if product.status != ProductStatus.LISTED:
        raise IllegalTransition(f"product {product.code} is {product.status}, not listed")
    if product.owner_id == purchaser.pk:
        raise InvalidInput("product", f"{product.code} is {purchaser.code}'s own product")
    with transaction.atomic():
        order = Order.objects.create(
            code=f"ORD-{common.now():%Y%m%d}-{secrets.token_hex(4).upper()}",
            product=product, buyer=purchaser, seller=product.owner, amount=product.price,
            currency=product.currency,
        )
        ledger.record(actor=purchaser.code, kind="contracts.order.placed",
                      subject=subject(order),
                      payload=_payload(order, contract=contract(order),
                                       contract_sm3=contract_sm3(order)))
    return order


def _buyer(by: common.User, order: Order) -> Participant:
    if common.member_of(by, order.buyer) is None:
        raise NotPermitted(f"only the buyer {order.buyer.code} may do this")
    return order.buyer


def _seller(by: common.User, order: Order) -> Participant:
    if common.member_of(by, order.seller) is None:
        raise NotPermitted(f"only the seller {order.seller.code} may do this")
    return order.seller


def _party(by: common.User, order: Order) -> Participant:
    party, _ = common.one_of(by, [(order.buyer, "buyer"), (order.seller, "seller")],
                             f"act on order {order.code}")
    return party


Apply = Callable[[Order, Participant], tuple[str, dict[str, Any]]]


def _step(by: common.User, order: Order, who: Callable[[common.User, Order], Participant],
          apply: Apply) -> Order:
    """Lock, check who acts, let ``apply`` pick the action and set fields; one entry."""
    with transaction.atomic():
        locked = Order.objects.select_for_update(of=("self",)).select_related(
            "product", "buyer", "seller").get(pk=order.pk)
        actor = who(by, locked)
        action, extra = apply(locked, actor)
        locked.state = ORDER.check(locked.state, action)
        entry = ledger.record(actor=actor.code, kind=f"contracts.order.{KIND[action]}",
                              subject=subject(locked), payload=_payload(locked, **extra))
        if action in ("sign", "countersign"):
            side = "buyer" if actor.pk == locked.buyer_id else "seller"
            setattr(locked, f"{side}_signed_seq", entry.seq)
        if action == "notarise":
            locked.notarised_seq, locked.notary = entry.seq, actor
        locked.save()
    return locked


def sign_order(*, by: common.User, order: Order) -> Order:
    """The buyer's or the seller's signature of the contract."""
    def apply(o: Order, party: Participant) -> tuple[str, dict[str, Any]]:
        side, other = ("buyer", "seller") if party.pk == o.buyer_id else ("seller", "buyer")
        ORDER.check(o.state, "sign")
        if getattr(o, f"{side}_signed_seq") is not None:
            raise IllegalTransition(f"order {o.code} is already signed by the {side}")
        last = getattr(o, f"{other}_signed_seq") is not None
        return ("countersign" if last else "sign"), {
            "party": side, "signer": party.code, "contract_sm3": contract_sm3(o)}

    return _step(by, order, _party, apply)


def _notary(by: common.User, order: Order) -> Participant:
    party = common.member_of(by, *authz.participants_of(by).filter(
        kind=Kind.THIRD_PARTY, service_type=ServiceType.NOTARISATION))
    if party is None:
        raise NotPermitted("only an admitted notarisation service (数据公证) notarises")
    if party.pk in (order.buyer_id, order.seller_id):
        raise NotPermitted("a party to the order cannot notarise it")
    return party


def notarise_order(*, by: common.User, order: Order, document: bytes | None = None) -> Order:
    """A third-party notarisation of the signed contract (once)."""
    def apply(o: Order, notary: Participant) -> tuple[str, dict[str, Any]]:
        ORDER.check(o.state, "notarise")
        if o.notarised_seq is not None:
            raise IllegalTransition(f"order {o.code} is already notarised")
        return "notarise", {"notary": notary.code, "contract_sm3": contract_sm3(o),
                            "buyer_signed_seq": o.buyer_signed_seq,
                            "seller_signed_seq": o.seller_signed_seq,
                            "document_sm3": sm3_hex(document) if document else None}

    return _step(by, order, _notary, apply)


def deliver_order(*, by: common.User, order: Order, data: bytes | None = None,
                  digest: str | None = None) -> Order:
    """The seller delivers; only the SM3 digest of the delivery goes on the ledger."""
    if (data is None) == (digest is None):
        raise InvalidInput("data", "give either the delivered bytes or their SM3 digest")
    if digest is not None and not is_hex64(digest):
        raise InvalidInput("digest", "must be 64 lowercase hex characters (SM3)")
    sm3 = sm3_hex(data) if data is not None else str(digest)

    def apply(o: Order, seller: Participant) -> tuple[str, dict[str, Any]]:
        o.delivery_digest = sm3
        return "deliver", {"sm3": sm3}

    return _step(by, order, _seller, apply)


def accept_delivery(*, by: common.User, order: Order) -> Order:
    return _step(by, order, _buyer, lambda o, p: ("accept", {"sm3": o.delivery_digest}))


def dispute_delivery(*, by: common.User, order: Order, reason: str) -> Order:
    reason = common.required("reason", reason, "dispute a delivery")

    def apply(o: Order, buyer: Participant) -> tuple[str, dict[str, Any]]:
        o.reason = reason
        return "dispute", {"sm3": o.delivery_digest, "reason": reason}

    return _step(by, order, _buyer, apply)


def _settler(by: common.User, order: Order) -> Participant:
    if order.state == S.DISPUTED:
        authority = common.reviewing_authority(by)
        if authority is None:
            raise NotPermitted("the data authority settles a disputed order")
        return authority
    return _seller(by, order)


def settle_order(*, by: common.User, order: Order, amount: str,
                 currency: str) -> Order:
    """Record the settlement: the seller after acceptance, the authority after a dispute."""
    value = common.money(amount)
    currency = common.currency_code(currency)

    def apply(o: Order, actor: Participant) -> tuple[str, dict[str, Any]]:
        ORDER.check(o.state, "settle")
        if currency != o.currency:
            raise InvalidInput("currency", f"the contract is in {o.currency}")
        if value > o.amount:
            raise InvalidInput("amount", f"exceeds the contract amount "
                               f"{common.money_text(o.amount)} {o.currency}")
        o.settled_amount, o.settled_at = value, common.now()
        return "settle", {"amount": common.money_text(value), "currency": currency,
                          "contract_amount": common.money_text(o.amount)}

    return _step(by, order, _settler, apply)


def close_order(*, by: common.User, order: Order) -> Order:
    return _step(by, order, _party, lambda o, p: ("close", {}))


def cancel_order(*, by: common.User, order: Order, reason: str) -> Order:
    """Either party cancels before delivery."""
    reason = common.required("reason", reason, "cancel an order")

    def apply(o: Order, party: Participant) -> tuple[str, dict[str, Any]]:
        o.reason = reason
        return "cancel", {"reason": reason, "by": party.code}

    return _step(by, order, _party, apply)
