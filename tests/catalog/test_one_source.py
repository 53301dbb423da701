"""一数一源 (one source, one standard): a data-element standard code has exactly one
authoritative source resource. A second claim is refused naming the existing source, in
the service and, as a last line, by the database."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from catalog import services
from catalog.models import Category, DataItem, DataResource, ResourceStatus
from kernel.errors import InvalidInput
from ledger import services as ledger
from tests.catalog import category_tree, resource, rolled_back
from tests.operators import authority, department, ledger_size, member

pytestmark = pytest.mark.django_db

STANDARD = "DE0001-USCC"  # 统一社会信用代码 data element
CLAIM = {"name": "统一社会信用代码", "standard_code": STANDARD, "authoritative": True,
         "data_type": "string"}
USE = {"name": "统一社会信用代码", "standard_code": STANDARD, "data_type": "string"}


def build() -> None:
    ledger.ensure_ledger_key()
    body, _ = authority()
    market = department(name="市场监督管理局", by=body)
    transport = department(name="交通运输局", by=body)
    member(market, "market")
    member(transport, "transport")
    tree = category_tree()
    resource(get_user_model().objects.get(username="market"), "SC-REG", tree["B0101"],
             name="市场主体登记信息", items=[CLAIM])


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    yield from rolled_back(django_db_blocker, build)


def by(username: str):
    return get_user_model().objects.get(username=username)


def category() -> Category:
    return Category.objects.get(code="T01")


def holder() -> DataItem:
    return DataItem.objects.get(standard_code=STANDARD, authoritative=True)


def test_a_second_authoritative_claim_is_refused_naming_the_source(world):
    size, count = ledger_size(), DataResource.objects.count()
    with pytest.raises(InvalidInput) as info:
        resource(by("transport"), "TR-OPERATORS", category(), name="道路运输经营者",
                 items=[{**CLAIM, "name": "经营者代码"}])
    assert info.value.field == "items[0].standard_code"
    assert "SC-REG" in info.value.reason and "市场监督管理局" in info.value.reason
    assert STANDARD in info.value.reason and "一数一源" in info.value.reason
    assert ledger_size() == size and DataResource.objects.count() == count
    assert holder().resource.code == "SC-REG"


def test_a_revision_cannot_take_the_claim_either(world):
    mine = resource(by("transport"), "TR-OPERATORS", category(), items=[USE])
    version, size = mine.version, ledger_size()
    with pytest.raises(InvalidInput, match="SC-REG"):
        services.revise_resource(by=by("transport"), resource=mine, items=[CLAIM])
    mine.refresh_from_db()
    assert mine.version == version and ledger_size() == size
    assert not mine.items.get().authoritative


def test_using_the_standard_without_claiming_it_is_fine(world):
    mine = resource(by("transport"), "TR-OPERATORS", category(), items=[USE])
    assert mine.items.get().standard_code == STANDARD
    assert holder().resource.code == "SC-REG"


def test_the_source_keeps_its_claim_when_it_publishes_again(world):
    source = DataResource.objects.get(code="SC-REG")
    revised = services.revise_resource(by=by("market"), resource=source,
                                       items=[CLAIM, {"name": "企业名称", "data_type": "string"}])
    assert revised.version == 2 and holder().resource == source
    withdrawn = services.withdraw_resource(by=by("market"), resource=revised, reason="整改")
    again = services.publish_resource(by=by("market"), resource=withdrawn)
    assert again.status == ResourceStatus.PUBLISHED and again.version == 3
    assert holder().resource == source


def test_a_released_claim_can_be_taken(world):
    source = DataResource.objects.get(code="SC-REG")
    services.revise_resource(by=by("market"), resource=source, items=[USE])
    taken = resource(by("transport"), "TR-OPERATORS", category(),
                     items=[{**CLAIM, "name": "经营者代码"}])
    assert holder().resource == taken


def test_one_resource_cannot_claim_a_standard_twice(world):
    with pytest.raises(InvalidInput) as info:
        resource(by("transport"), "TR-X", category(),
                 items=[{**CLAIM, "standard_code": "DE0099"},
                        {**CLAIM, "name": "副本", "standard_code": "DE0099"}])
    assert info.value.field == "items[1].standard_code"


def test_a_claim_must_name_its_standard(world):
    with pytest.raises(InvalidInput) as info:
        resource(by("transport"), "TR-X", category(),
                 items=[{"name": "车牌号", "authoritative": True, "data_type": "string"}])
    assert info.value.field == "items[0].standard_code"


def test_the_database_refuses_a_second_claim_too(world):
    other = resource(by("transport"), "TR-OPERATORS", category(), items=[USE])
    with pytest.raises(IntegrityError), transaction.atomic():
        DataItem.objects.create(resource=other, name="另一个", standard_code=STANDARD,
                                authoritative=True, data_type="string")
    assert DataItem.objects.filter(standard_code=STANDARD, authoritative=True).count() == 1
