"""Transactions on listed products: signatures, notarisation, money as strings, totals."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from contracts import orders, products, selectors
from contracts.calendar import SHANGHAI
from contracts.models import Order
from crypto.sm3 import sm3_hex
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from tests.contracts import world as w

pytestmark = pytest.mark.django_db


def contracted(world: w.World, product=None, buyer=None) -> Order:  # type: ignore[no-untyped-def]
    buyer = buyer or world.merchant_user
    placed = orders.place_order(by=buyer, product=product or world.product)
    orders.sign_order(by=buyer, order=placed)
    return orders.sign_order(by=world.operator_user, order=placed)


def settled(world: w.World, amount: str, **extra) -> Order:  # type: ignore[no-untyped-def]
    placed = contracted(world, **extra)
    buyer = extra.get("buyer") or world.merchant_user
    orders.deliver_order(by=world.operator_user, order=placed, data=b"product data")
    orders.accept_delivery(by=buyer, order=placed)
    return orders.settle_order(by=world.operator_user, order=placed, amount=amount,
                               currency="CNY")


def test_the_whole_deal_is_on_the_ledger(world: w.World) -> None:
    seq = w.last_seq()
    placed = contracted(world)
    orders.notarise_order(by=world.notary_user, order=placed, document=b"notarial deed")
    orders.deliver_order(by=world.operator_user, order=placed, data=b"product data")
    orders.accept_delivery(by=world.merchant_user, order=placed)
    orders.settle_order(by=world.operator_user, order=placed, amount="1250.00",
                        currency="CNY")
    done = orders.close_order(by=world.merchant_user, order=placed)
    entries = w.entries_after(seq)
    assert [(e.kind.rsplit(".", 1)[1], e.actor) for e in entries] == [
        ("placed", world.merchant.code), ("signed", world.merchant.code),
        ("signed", world.operator.code), ("notarised", world.notary.code),
        ("delivered", world.operator.code), ("accepted", world.merchant.code),
        ("settled", world.operator.code), ("closed", world.merchant.code),
    ]
    assert all(w.signer_of(e) == e.actor for e in entries)
    payloads = [w.payload_of(e) for e in entries]
    digest = orders.contract_sm3(done)
    assert payloads[0]["contract"]["amount"] == "1250.00"
    assert payloads[1]["contract_sm3"] == payloads[2]["contract_sm3"] == digest
    assert payloads[3]["document_sm3"] == sm3_hex(b"notarial deed")
    assert payloads[3]["buyer_signed_seq"] == entries[1].seq
    assert payloads[4]["sm3"] == sm3_hex(b"product data") == done.delivery_digest
    assert (payloads[6]["amount"], payloads[6]["currency"]) == ("1250.00", "CNY")
    assert '"amount":"1250.00"' in entries[6].payload_row.data
    assert (done.state, done.notary, done.notarised_seq) == (Order.State.CLOSED,
                                                              world.notary, entries[3].seq)
    assert done.settled_amount == Decimal("1250.00")


def test_a_disputed_delivery_is_settled_by_the_authority(world: w.World) -> None:
    placed = contracted(world)
    orders.deliver_order(by=world.operator_user, order=placed, digest="cd" * 32)
    disputed = orders.dispute_delivery(by=world.merchant_user, order=placed,
                                       reason="缺少字段")
    assert disputed.reason == "缺少字段"
    with pytest.raises(NotPermitted):
        orders.settle_order(by=world.operator_user, order=placed, amount="1.00",
                            currency="CNY")
    done = orders.settle_order(by=world.authority_user, order=placed, amount="625.50",
                               currency="CNY")
    assert done.settled_amount == Decimal("625.50")


@pytest.mark.parametrize(("amount", "currency", "field"), [
    (1250.0, "CNY", "amount"),
    ("12.345", "CNY", "amount"),
    ("-1", "CNY", "amount"),
    ("abc", "CNY", "amount"),
    ("NaN", "CNY", "amount"),
    ("1250.01", "CNY", "amount"),
    ("100.00", "USD", "currency"),
    ("100.00", "cny", "currency"),
])
def test_settlement_amounts_are_checked(world: w.World, amount, currency, field) -> None:  # type: ignore[no-untyped-def]
    placed = contracted(world)
    orders.deliver_order(by=world.operator_user, order=placed, data=b"x")
    orders.accept_delivery(by=world.merchant_user, order=placed)
    seq = w.last_seq()
    with pytest.raises(InvalidInput) as refused:
        orders.settle_order(by=world.operator_user, order=placed, amount=amount,
                            currency=currency)
    assert refused.value.field == field
    assert w.last_seq() == seq
    assert Order.objects.get(pk=placed.pk).state == Order.State.ACCEPTED


def test_who_may_order_what(world: w.World) -> None:
    with pytest.raises(InvalidInput):
        orders.place_order(by=world.operator_user, product=world.product)  # its own
    with pytest.raises(NotPermitted):
        orders.place_order(by=world.provider_user, product=world.product)
    with pytest.raises(NotPermitted):
        orders.place_order(by=world.subject_user, product=world.product)
    draft = products.create_product(by=world.operator_user, code="P-draft", name="草稿",
                                   resources=[world.unconditional], price="10.00")
    with pytest.raises(IllegalTransition):
        orders.place_order(by=world.merchant_user, product=draft)


def test_a_party_cannot_notarise_and_only_once(world: w.World) -> None:
    placed = contracted(world)
    with pytest.raises(NotPermitted):
        orders.notarise_order(by=world.operator_user, order=placed)
    orders.notarise_order(by=world.notary_user, order=placed)
    with pytest.raises(IllegalTransition, match="already notarised"):
        orders.notarise_order(by=world.notary_user, order=placed)


def test_cancellation_only_before_delivery(world: w.World) -> None:
    placed = contracted(world)
    orders.deliver_order(by=world.operator_user, order=placed, data=b"x")
    with pytest.raises(IllegalTransition):
        orders.cancel_order(by=world.merchant_user, order=placed, reason="晚了")
    with pytest.raises(InvalidInput):
        orders.cancel_order(by=world.merchant_user, order=contracted(world), reason="")


def test_totals_for_the_regulator_are_aggregated_in_the_database(
    world: w.World, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    second, second_user = w.company("merchant", world.authority_user,
                                    merchant_type="technical")
    other = w.listed_product(world, world.operator, world.operator_user, price="80.00")
    settled(world, "1250.00")
    settled(world, "1000.00")
    settled(world, "80.00", product=other, buyer=second_user)
    contracted(world)  # not settled: not counted
    with django_assert_num_queries(1):
        by_product = selectors.order_totals(by="product")
    assert {(r["product__code"], r["orders"], r["total"]) for r in by_product} == {
        (world.product.code, 2, Decimal("2250.00")), (other.code, 1, Decimal("80.00"))}
    by_buyer = {r["buyer__code"]: r["total"] for r in selectors.order_totals(by="buyer")}
    assert by_buyer == {world.merchant.code: Decimal("2250.00"),
                        second.code: Decimal("80.00")}
    (by_seller,) = selectors.order_totals(by="seller")
    assert (by_seller["seller__code"], by_seller["orders"], by_seller["total"],
            by_seller["currency"]) == (world.operator.code, 3, Decimal("2330.00"), "CNY")
    (month,) = selectors.order_totals(by="period", period="month")
    assert month["total"] == Decimal("2330.00")
    assert month["period"].astimezone(SHANGHAI).day == 1
    later = datetime.now(SHANGHAI) + timedelta(days=1)
    assert selectors.order_totals(by="product", since=later) == []
    with pytest.raises(InvalidInput):
        selectors.order_totals(by="colour")
