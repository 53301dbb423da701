"""Desensitisation that is checked: per delivered data item, the rule applied is recorded;
a personal-information item is delivered only with the rule its resource declares; an
item with a declared rule never in the clear; the SM3 digest stays the proof of what was
delivered. The expected outcome of every (item, rule) is written from those rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from catalog import services as catalog
from catalog.models import DataResource
from contracts import grants, sharing
from contracts.models import Delivery, Grant
from crypto.sm3 import sm3_hex
from kernel.errors import InvalidInput
from tests.contracts import world as w

pytestmark = pytest.mark.django_db
RULES = ["none", "mask", "hash", "generalise"]
# name -> (personal information?, the rule the resource declares)
ITEMS = {"姓名": (True, "mask"), "身份证号": (True, "hash"), "住址": (True, "generalise"),
         "车牌号": (False, "mask"), "登记日期": (False, "none")}


def expected_ok(item: str, rule: str) -> bool:
    personal, declared = ITEMS[item]
    if personal:
        return rule == declared
    return declared == "none" or rule != "none"


def resource(world: w.World) -> DataResource:
    made = catalog.create_resource(
        by=world.provider_user, code=f"R-PI-{w.code()}", category=world.category,
        items=[{"name": n, "data_type": "string", "personal_information": p,
                "desensitisation": d} for n, (p, d) in ITEMS.items()],
        name="机动车登记", grade="important", sensitivity=3, sharing="unconditional",
        opening="open", update_frequency="daily", provider=world.provider)
    return catalog.publish_resource(by=world.provider_user, resource=made)


@pytest.fixture
def grant(world: w.World) -> Grant:
    request = sharing.request_sharing(
        by=world.operator_user, resource=resource(world), purpose="车辆核验", scenario="审批",
        legal_basis="《条例》", period_from=w.today(),
        period_until=w.today() + timedelta(days=30))
    return Grant.objects.get(sharing_request=request)


@pytest.mark.parametrize("item", sorted(ITEMS))
@pytest.mark.parametrize("rule", RULES)
def test_each_item_and_rule(world: w.World, grant: Grant, item: str, rule: str) -> None:
    seq, count = w.last_seq(), Delivery.objects.count()
    call: Any = lambda: grants.record_delivery(  # noqa: E731
        by=world.provider_user, grant=grant, rows=10, desensitisation={item: rule},
        data=b"rows")
    if not expected_ok(item, rule):
        with pytest.raises(InvalidInput) as error:
            call()
        assert error.value.field == f"desensitisation[{item}]"
        assert ITEMS[item][1] in error.value.reason
        assert (w.last_seq(), Delivery.objects.count()) == (seq, count)
        return
    delivery = call()
    (entry,) = w.entries_after(seq)
    payload = w.payload_of(entry)
    assert payload["desensitisation"] == {item: rule} == delivery.desensitisation
    assert payload["personal_information"] == ([item] if ITEMS[item][0] else [])
    assert payload["sm3"] == sm3_hex(b"rows") == delivery.digest


def test_a_delivery_names_every_item_with_its_rule(world: w.World, grant: Grant) -> None:
    rules = {name: declared for name, (_personal, declared) in ITEMS.items()}
    seq = w.last_seq()
    grants.record_delivery(by=world.provider_user, grant=grant, rows=3, desensitisation=rules,
                           data=b"three rows")
    payload = w.payload_of(w.entries_after(seq)[0])
    assert payload["desensitisation"] == dict(sorted(rules.items()))
    assert payload["personal_information"] == sorted(n for n, (p, _) in ITEMS.items() if p)
    with pytest.raises(InvalidInput) as error:
        grants.record_delivery(by=world.provider_user, grant=grant, rows=3,
                               desensitisation={**rules, "身份证号": "mask"}, data=b"x")
    assert error.value.field == "desensitisation[身份证号]"


def test_the_catalogue_makes_personal_items_declare_a_rule(world: w.World) -> None:
    with pytest.raises(InvalidInput) as error:
        catalog.create_resource(
            by=world.provider_user, code=f"R-BAD-{w.code()}", category=world.category,
            items=[{"name": "姓名", "data_type": "string", "personal_information": True}],
            name="x", grade="general", sensitivity=1, sharing="unconditional",
            opening="open", update_frequency="daily", provider=world.provider)
    assert error.value.field == "items[0].desensitisation"


def test_a_revision_cannot_take_back_a_personal_information_flag(world: w.World,
                                                                 grant: Grant) -> None:
    """Otherwise the provider could revise the resource and deliver the item in the clear
    under the grant decided on the declaration."""
    resource = grant.resource
    items = [{"name": n, "data_type": "string", "personal_information": p,
              "desensitisation": d} for n, (p, d) in ITEMS.items()]
    index = list(ITEMS).index("身份证号")
    items[index] = {**items[index], "personal_information": False, "desensitisation": "none"}
    version, seq = resource.version, w.last_seq()
    with pytest.raises(InvalidInput) as error:
        catalog.revise_resource(by=world.provider_user, resource=resource, items=items)
    assert error.value.field == f"items[{index}].personal_information"
    assert "身份证号" in error.value.reason
    resource.refresh_from_db()
    assert (resource.version, w.last_seq()) == (version, seq)
    assert resource.items.get(name="身份证号").personal_information
    with pytest.raises(InvalidInput):
        grants.record_delivery(by=world.provider_user, grant=grant, rows=1,
                               desensitisation={"身份证号": "none"}, data=b"x")
    # a revision may still change the rule it declares, and flag another item
    items[index] = {**items[index], "personal_information": True, "desensitisation": "mask"}
    plate = list(ITEMS).index("车牌号")
    items[plate] = {**items[plate], "personal_information": True}
    revised = catalog.revise_resource(by=world.provider_user, resource=resource, items=items)
    assert revised.version == version + 1
    grants.record_delivery(by=world.provider_user, grant=grant, rows=1,
                           desensitisation={"身份证号": "mask", "车牌号": "mask"}, data=b"x")


def test_the_api_refuses_the_same_delivery(world: w.World, grant: Grant) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(world.provider_user)
    response = client.post(f"/api/v1/grants/{grant.pk}/deliveries/", {
        "digest": sm3_hex(b"rows"), "rows": 1, "desensitisation": {"姓名": "hash"}},
        format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["desensitisation[姓名]"]
    assert "personal information" in response.json()["error"]["fields"][
        "desensitisation[姓名]"][0]
