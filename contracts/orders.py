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
from django.utils.translation import gettext_lazy as _

from catalog.models import DataProduct, ProductStatus
from contracts import common
from contracts.deliveries import MAX_DOCUMENT, delivered_digest
from contracts.models import Order
from crypto.canonical import canonical
from crypto.sm3 import sm3_hex
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from kernel.money import Money, money_text
from kernel.states import Machine, Transition
from kernel.text import required_text
from kernel.times import local_date
from kernel.uploads import check_size
from ledger import services as ledger
from ledger.models import Entry
from operators import authz, capabilities
from operators.models import Participant
from operators.transitions import Recorded, take

S = Order.State


def _buyer(by: common.User | None, order: Order) -> Participant:
    if capabilities.acts_for(by, order.buyer) is None:
        raise NotPermitted(_("only the buyer %(name)s may do this"), name=order.buyer.name_zh)
    return order.buyer


def _seller(by: common.User | None, order: Order) -> Participant:
    if capabilities.acts_for(by, order.seller) is None:
        raise NotPermitted(_("only the seller %(name)s may do this"), name=order.seller.name_zh)
    return order.seller


def _party(by: common.User | None, order: Order) -> Participant:
    """Either party to the order (the buyer first)."""
    party = capabilities.acts_for(by, order.buyer, order.seller)
    if party is None:
        raise NotPermitted(_("only the buyer or seller may act on order %(code)s"),
                           code=order.code)
    return party


def _notary(by: common.User | None, order: Order) -> Participant:
    party = capabilities.notarisation_service(by)
    if party is None:
        raise NotPermitted(_("only an admitted notarisation service (数据公证) notarises"))
    if party.pk in (order.buyer_id, order.seller_id):
        raise NotPermitted(_("a party to the order cannot notarise it"))
    return party


def _authority(by: common.User | None, order: Order) -> Participant:
    authority = capabilities.reviewing_authority(by)
    if authority is None:
        raise NotPermitted(_("the data authority settles a disputed order"))
    return authority


def side_of(order: Order, party: Participant) -> str:
    return "buyer" if party.pk == order.buyer_id else "seller"


def _signed_already(order: Order, party: Participant) -> str | None:
    side = side_of(order, party)
    if getattr(order, f"{side}_signed_seq") is not None:
        who = _("the buyer") if side == "buyer" else _("the seller")
        return _("order %(code)s is already signed by %(side)s") % {"code": order.code,
                                                                    "side": who}
    return None


def _after_signature(order: Order, party: Participant) -> str:
    other = "seller" if side_of(order, party) == "buyer" else "buyer"
    return S.CONTRACTED if getattr(order, f"{other}_signed_seq") is not None else S.ORDERED


def _notarised_already(order: Order, notary: Participant) -> str | None:
    if not order.notarised_seq:
        return None
    return _("order %(code)s is already notarised") % {"code": order.code}


ORDER: Machine[Order] = Machine("order", [
    Transition("sign", (S.ORDERED,), _after_signature, _party, _signed_already),
    Transition("notarise", (S.CONTRACTED,), S.CONTRACTED, _notary, _notarised_already),
    Transition("deliver", (S.CONTRACTED,), S.DELIVERED, _seller),
    Transition("accept", (S.DELIVERED,), S.ACCEPTED, _buyer),
    Transition("dispute", (S.DELIVERED,), S.DISPUTED, _buyer),
    Transition("settle", (S.ACCEPTED,), S.SETTLED, _seller),
    Transition("settle", (S.DISPUTED,), S.SETTLED, _authority),
    Transition("close", (S.SETTLED,), S.CLOSED, _party),
    Transition("cancel", (S.ORDERED, S.CONTRACTED), S.CANCELLED, _party),
])
KIND = {"sign": "signed", "notarise": "notarised", "deliver": "delivered",
        "accept": "accepted", "dispute": "disputed", "settle": "settled", "close": "closed",
        "cancel": "cancelled"}


def subject(order: Order) -> str:
    return f"contracts/order/{order.code}"


def contract(order: Order) -> dict[str, Any]:
    """The contract both parties sign."""
    return {"order": order.code, "product": order.product.code, "buyer": order.buyer.code,
            "seller": order.seller.code, "amount": money_text(order.amount),
            "currency": order.currency}


def contract_text(order: Order) -> str:
    """The contract's canonical bytes as text: what the parties sign, as they read it."""
    return canonical(contract(order)).decode("utf-8")


def contract_sm3(order: Order) -> str:
    return sm3_hex(canonical(contract(order)))



def _payload(order: Order, **extra: Any) -> dict[str, Any]:
    return {"order": order.code, "product": order.product.code, "state": order.state,
            **extra}


def buyer_acting(by: Any, buyer: Participant | None = None) -> Participant:
    """Who may order a product: an admitted authorised operator or data merchant."""
    return authz.acting_for(by, buyer, kinds=capabilities.MARKET_KINDS)


def place_order(*, by: common.User, product: DataProduct,
                buyer: Participant | None = None) -> Order:
    """An operator or merchant orders a listed product at its listed price."""
    purchaser = buyer_acting(by, buyer)
    if product.status != ProductStatus.LISTED:
        raise IllegalTransition(_("product %(code)s is %(status)s, not listed"),
                                code=product.code, status=product.get_status_display())
    if product.owner_id == purchaser.pk:
        raise InvalidInput("product", _("%(code)s is a product of %(name)s itself"),
                           code=product.code, name=purchaser.name_zh)
    with transaction.atomic():
        order = Order.objects.create(
            code=f"ORD-{local_date(common.now()):%Y%m%d}-{secrets.token_hex(4).upper()}",
            product=product, buyer=purchaser, seller=product.owner, amount=product.price,
            currency=product.currency,
        )
        ledger.record(actor=purchaser.code, kind="contracts.order.placed",
                      subject=subject(order),
                      payload=_payload(order, contract=contract(order),
                                       contract_sm3=contract_sm3(order)))
    return order


RECORDED: Recorded[Order] = Recorded(
    kind=lambda action: f"contracts.order.{KIND[action]}", subject=lambda o: subject(o),
    payload=lambda o: _payload(o), related=("product", "buyer", "seller"))


def _step(by: common.User, order: Order, action: str,
          change: Callable[[Order, Participant], dict[str, Any]] | None = None,
          after: Callable[[Order, Participant, Entry], None] | None = None) -> Order:
    return take(ORDER, RECORDED, order, action, by=by, change=change, after=after)


def sign_order(*, by: common.User, order: Order) -> Order:
    """The buyer's or the seller's signature of the contract."""

    def change(o: Order, party: Participant) -> dict[str, Any]:
        return {"party": side_of(o, party), "signer": party.code,
                "contract_sm3": contract_sm3(o)}

    def signed(o: Order, party: Participant, entry: Entry) -> None:
        setattr(o, f"{side_of(o, party)}_signed_seq", entry.seq)

    return _step(by, order, "sign", change, signed)


def notarise_order(*, by: common.User, order: Order, document: bytes | None = None) -> Order:
    """A third-party notarisation of the signed contract (once)."""

    def change(o: Order, notary: Participant) -> dict[str, Any]:
        if document is not None:
            check_size("document", document, MAX_DOCUMENT)
        return {"notary": notary.code, "contract_sm3": contract_sm3(o),
                "buyer_signed_seq": o.buyer_signed_seq,
                "seller_signed_seq": o.seller_signed_seq,
                "document_sm3": sm3_hex(document) if document else None}

    def notarised(o: Order, notary: Participant, entry: Entry) -> None:
        o.notarised_seq, o.notary = entry.seq, notary

    return _step(by, order, "notarise", change, notarised)


def deliver_order(*, by: common.User, order: Order, data: bytes | None = None,
                  digest: str | None = None) -> Order:
    """The seller delivers; only the SM3 digest of the delivery goes on the ledger."""

    def change(o: Order, seller: Participant) -> dict[str, Any]:
        o.delivery_digest = delivered_digest(data, digest)
        return {"sm3": o.delivery_digest}

    return _step(by, order, "deliver", change)


def accept_delivery(*, by: common.User, order: Order) -> Order:
    return _step(by, order, "accept", lambda o, p: {"sm3": o.delivery_digest})


def dispute_delivery(*, by: common.User, order: Order, reason: str) -> Order:
    def change(o: Order, buyer: Participant) -> dict[str, Any]:
        o.reason = required_text("reason", reason, _("to dispute a delivery"))
        return {"sm3": o.delivery_digest, "reason": o.reason}

    return _step(by, order, "dispute", change)


def settle_order(*, by: common.User, order: Order, amount: Any, currency: Any) -> Order:
    """Record the settlement: the seller after acceptance, the authority after a dispute."""

    def change(o: Order, actor: Participant) -> dict[str, Any]:
        settled = Money.parse(amount, currency)
        if settled.currency != o.currency:
            raise InvalidInput("currency", _("the contract is in %(currency)s"),
                               currency=o.currency)
        if settled.amount > o.amount:
            raise InvalidInput("amount", _("exceeds the contract amount %(amount)s "
                                           "%(currency)s"), amount=money_text(o.amount),
                               currency=o.currency)
        o.settled_amount, o.settled_at = settled.amount, common.now()
        return {"amount": settled.text, "currency": settled.currency,
                "contract_amount": money_text(o.amount)}

    return _step(by, order, "settle", change)


def close_order(*, by: common.User, order: Order) -> Order:
    return _step(by, order, "close")


def cancel_order(*, by: common.User, order: Order, reason: str) -> Order:
    """Either party cancels before delivery."""

    def change(o: Order, party: Participant) -> dict[str, Any]:
        o.reason = required_text("reason", reason, _("to cancel an order"))
        return {"reason": o.reason, "by": party.code}

    return _step(by, order, "cancel", change)
