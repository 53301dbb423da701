"""Searching the catalogue: every filter, alone and together, with pagination; done in the
database (a query set; the number of queries does not grow with the catalogue)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from catalog import quality, selectors
from catalog.models import Category, DataResource
from catalog.selectors import ResourceFilter
from ledger import services as ledger
from operators.models import Participant
from tests.catalog import category_tree, resource, rolled_back
from tests.operators import authority, department, member

pytestmark = pytest.mark.django_db

CATALOGUE = [  # code, owner, category, name, English name, grade, sharing, opening, state
    ("MS-ENTITIES", "ms", "B0101", "市场主体登记信息", "Market entities", "general",
     "conditional", "open", "published"),
    ("MS-PENALTIES", "ms", "D01", "行政处罚信息", "Administrative penalties", "important",
     "unconditional", "conditional", "published"),
    ("MS-LICENCES", "ms", "D01", "食品经营许可", "Food business licences", "core",
     "not_shareable", "not_open", "published"),
    ("TR-BUS", "tr", "T01", "公交线路", "Bus routes", "general", "unconditional", "open",
     "published"),
    ("TR-TAXI", "tr", "T01", "出租车运营", "Taxi operations", "important", "conditional",
     "conditional", "withdrawn"),
    ("TR-PLAN", "tr", "B02", "道路规划草案", "Road plan", "general", "unconditional", "open",
     "draft"),
]


def build() -> dict[str, str]:
    ledger.ensure_ledger_key()
    body, _ = authority()
    providers = {"ms": department(name="市场监督管理局", by=body),
                 "tr": department(name="交通运输局", by=body)}
    admins = {key: member(p, f"{key}-admin") for key, p in providers.items()}
    tree = category_tree()
    for code, owner, category, name, name_en, grade, sharing, opening, state in CATALOGUE:
        resource(admins[owner], code, tree[category], name=name, name_en=name_en,
                 grade=grade, sharing=sharing, opening=opening, state=state,
                 description=f"{name}（{owner}）", items=[])
    penalties = DataResource.objects.get(code="MS-PENALTIES")
    penalties.items.create(name="案号", data_type="string")
    quality.add_rule(by=admins["ms"], resource=penalties, item_name="案号", check="not_null")
    quality.run_quality_check(by=admins["ms"], resource=penalties, sample_name="s.csv",
                              sample="案号,备注\n,空案号\n".encode())
    return {key: p.code for key, p in providers.items()}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    yield from rolled_back(django_db_blocker, build)


def reader():
    """The data authority's reviewer: sees the whole catalogue, drafts included."""
    return get_user_model().objects.get(memberships__participant__kind="authority")


def codes(**criteria) -> list[str]:
    found = selectors.search(reader(), ResourceFilter(**criteria))
    return list(found.values_list("code", flat=True))


def test_no_filter_lists_everything_in_code_order(world):
    assert codes() == sorted(c[0] for c in CATALOGUE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("登记", ["MS-ENTITIES"]),
        ("bus", ["MS-LICENCES", "TR-BUS"]),  # "Food business licences" too
        ("ROUTES", ["TR-BUS"]),
        ("（tr）", ["TR-BUS", "TR-PLAN", "TR-TAXI"]),
        ("ms-l", ["MS-LICENCES"]),
        ("没有这个", []),
    ],
)
def test_text_matches_names_description_and_code(world, text, expected):
    assert codes(text=text) == expected


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("B", ["MS-ENTITIES", "TR-PLAN"]),
        ("B01", ["MS-ENTITIES"]),
        ("B0101", ["MS-ENTITIES"]),
        ("D", ["MS-LICENCES", "MS-PENALTIES"]),
        ("T01", ["TR-BUS", "TR-TAXI"]),
        ("X", []),
    ],
)
def test_a_category_includes_its_descendants(world, category, expected):
    assert codes(category=category) == expected


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"grade": "core"}, ["MS-LICENCES"]),
        ({"grade": "important"}, ["MS-PENALTIES", "TR-TAXI"]),
        ({"sharing": "not_shareable"}, ["MS-LICENCES"]),
        ({"sharing": "conditional"}, ["MS-ENTITIES", "TR-TAXI"]),
        ({"opening": "open"}, ["MS-ENTITIES", "TR-BUS", "TR-PLAN"]),
        ({"opening": "not_open"}, ["MS-LICENCES"]),
        ({"status": "withdrawn"}, ["TR-TAXI"]),
        ({"quality_failing": True}, ["MS-PENALTIES"]),
        ({"grade": "important", "opening": "conditional", "status": "published"},
         ["MS-PENALTIES"]),
        ({"grade": "general", "category": "T"}, ["TR-BUS"]),
    ],
)
def test_attribute_filters(world, criteria, expected):
    assert codes(**criteria) == expected


def test_provider_and_quality_flag(world):
    assert codes(provider=world["tr"]) == ["TR-BUS", "TR-PLAN", "TR-TAXI"]
    assert codes(provider=world["ms"], quality_failing=False) == ["MS-ENTITIES", "MS-LICENCES"]
    assert codes(provider="91350100M000100Y43") == []


def test_filters_apply_only_to_what_the_reader_may_see(world):
    found = selectors.search(AnonymousUser(), ResourceFilter(opening="open"))
    assert list(found.values_list("code", flat=True)) == ["MS-ENTITIES", "TR-BUS"]
    assert not selectors.search(AnonymousUser(), ResourceFilter(text="食品")).exists()


def test_pagination(world):
    pages = Paginator(selectors.search(reader()), 4)
    assert pages.count == 6 and pages.num_pages == 2
    assert [r.code for r in pages.page(1)] == ["MS-ENTITIES", "MS-LICENCES", "MS-PENALTIES",
                                               "TR-BUS"]
    assert [r.code for r in pages.page(2)] == ["TR-PLAN", "TR-TAXI"]


def queries_for_a_page(user, criteria: ResourceFilter) -> int:
    with CaptureQueriesContext(connection) as captured:
        page = Paginator(selectors.search(user, criteria), 3).page(1)
        [(r.provider.name_zh, r.category.name) for r in page]
    return len(captured)


@pytest.mark.parametrize("who", ["reader", "anonymous", "provider"])
def test_the_search_runs_in_the_database(world, who):
    user = {"reader": reader, "anonymous": AnonymousUser,
            "provider": lambda: get_user_model().objects.get(username="tr-admin")}[who]()
    criteria = ResourceFilter(text="信息", category="B", quality_failing=False)
    assert isinstance(selectors.search(user, criteria), QuerySet)
    small = queries_for_a_page(user, criteria)
    provider = Participant.objects.get(code=world["ms"])
    leaf = Category.objects.get(code="B0101")
    DataResource.objects.bulk_create(
        DataResource(code=f"MS-BULK-{n:03d}", provider=provider, category=leaf,
                     name=f"批量信息{n}", grade="general", sensitivity=1,
                     sharing="unconditional", opening="open", update_frequency="daily",
                     status="published", version=1)
        for n in range(60)
    )
    assert queries_for_a_page(user, criteria) == small
