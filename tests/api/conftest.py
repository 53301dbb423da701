"""API fixtures: a small world built once per test module through the services, a user with
a token for every role, and clients that act as each of them.

The world is committed once per module (building it signs some fifty ledger entries); each
test then runs inside a transaction that is rolled back, so tests may change anything. At
the end of the module the tables are emptied again, as ``committed_db`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts import tokens
from catalog import access, quality
from catalog import services as catalog
from catalog.models import Category, DataResource
from contracts import products
from contracts.models import Grant
from ledger.models import Entry
from operators import services as operators
from operators import uscc
from operators.models import Kind, Participant, Role

DIVISION = "110108"

# role name -> (participant key, role in it); None: a user who acts for nobody.
ROLES: dict[str, tuple[str, str] | None] = {
    "authority": ("authority", Role.ADMIN),
    "authority_staff": ("authority", Role.STAFF),
    "regulator": ("regulator", Role.ADMIN),
    "auditor": ("auditor", Role.ADMIN),
    "provider": ("provider", Role.ADMIN),
    "provider_staff": ("provider", Role.STAFF),
    "provider_b": ("provider_b", Role.ADMIN),
    "operator": ("operator", Role.ADMIN),
    "merchant": ("merchant", Role.ADMIN),
    "applicant": ("applicant", Role.ADMIN),
    "certifier": ("certifier", Role.ADMIN),
    "valuer": ("valuer", Role.ADMIN),
    "outsider": None,
}

ITEMS = [
    {"name": "uscc", "data_type": "code", "standard_code": "DE-API-0001",
     "authoritative": True, "description": "统一社会信用代码", "sensitivity": 1},
    {"name": "legal_person", "data_type": "string", "sensitivity": 3,
     "personal_information": True, "desensitisation": "mask", "description": "法定代表人"},
    {"name": "capital", "data_type": "decimal", "sensitivity": 2},
]


def code_for(serial: int, kind: str) -> str:
    prefix = "11" if kind in (Kind.PROVIDER, Kind.AUTHORITY, Kind.REGULATOR) else "91"
    return uscc.make(prefix, DIVISION, f"A{serial:07d}")


DEPARTMENTS = [(2, "regulator", Kind.REGULATOR, "市网信办"), (3, "auditor", Kind.AUDITOR, "审计局"),
               (4, "provider", Kind.PROVIDER, "市场监管局"),
               (5, "provider_b", Kind.PROVIDER, "自然资源局")]
COMPANIES: list[tuple[int, str, str, str, dict[str, str]]] = [
    (6, "operator", Kind.OPERATOR, "数据运营公司", {}),
    (7, "merchant", Kind.MERCHANT, "数智科技", {"merchant_type": "technical"}),
    (8, "applicant", Kind.MERCHANT, "新申请公司", {"merchant_type": "service"}),
    (9, "certifier", Kind.THIRD_PARTY, "合规认证所", {"service_type": "certification"}),
    (10, "valuer", Kind.THIRD_PARTY, "资产评估所", {"service_type": "valuation"}),
]
RESOURCES = ["RS-OPEN", "RS-COND", "RS-CLOSED", "RS-DRAFT", "RS-B"]
PRODUCTS = ["DP-DRAFT", "DP-SUBMITTED", "DP-LISTED"]


def planned_codes() -> dict[str, str]:
    """The participant codes the world will have (they depend only on the plan)."""
    plan = [(1, "authority", Kind.AUTHORITY), *[(n, k, kind) for n, k, kind, _ in DEPARTMENTS],
            *[(n, k, kind) for n, k, kind, _, _ in COMPANIES]]
    return {key: code_for(serial, kind) for serial, key, kind in plan}


def resource_fields(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "企业登记信息", "name_en": "Company registrations",
        "description": "全市市场主体登记信息", "grade": "general", "sensitivity": 2,
        "sharing": "unconditional", "sharing_basis": "", "opening": "open",
        "update_frequency": "daily", "source_system": "登记系统", "data_format": "csv",
        "responsible_person": "王敏",
    }
    values.update(overrides)
    return values


@dataclass
class World:
    participants: dict[str, str] = field(default_factory=dict)   # key -> code
    tokens: dict[str, str] = field(default_factory=dict)         # role -> token key
    usernames: dict[str, str] = field(default_factory=dict)      # role -> username

    def code(self, key: str) -> str:
        return self.participants[key]

    def participant(self, key: str) -> Participant:
        return Participant.objects.get(code=self.participants[key])

    def user(self, role: str) -> Any:
        return get_user_model().objects.get(username=self.usernames[role])


def _user(name: str) -> Any:
    return get_user_model().objects.create_user(username=name, password=None)


def build_world() -> World:
    world = World()
    users = {role: _user(f"api-{role}") for role in ROLES}
    world.usernames = {role: user.get_username() for role, user in users.items()}
    world.tokens = {role: tokens.issue(user=user).token for role, user in users.items()}

    authority = operators.register_department(code=code_for(1, Kind.AUTHORITY),
                                              name_zh="市大数据局", name_en="Data Bureau",
                                              kind=Kind.AUTHORITY, contact_name="张伟",
                                              contact_phone="010-12345678")
    made = {"authority": authority}
    for serial, key, kind, name in DEPARTMENTS:
        made[key] = operators.register_department(code=code_for(serial, kind), name_zh=name,
                                                  kind=kind, by=authority,
                                                  contact_name="联系人")
    for role, where in ROLES.items():
        if where and where[0] in made:
            operators.add_member(participant=made[where[0]], user=users[role],
                                 role=where[1], by=None)
    reviewer = users["authority"]
    for serial, key, kind, name, extra in COMPANIES:
        made[key] = operators.apply_for_admission(
            code=code_for(serial, kind), name_zh=name, kind=kind, applicant=users[key],
            contact_email=f"{key}@example.com", **extra)
        if key != "applicant":
            for action in ("start_review", "admit"):
                operators.review_registration(participant=made[key], action=action,
                                              by=reviewer)
    world.participants = {key: p.code for key, p in made.items()}

    tree = {}
    for code, name, branch, parent in [("B", "基础信息", "base", None),
                                       ("B01", "法人单位", "base", "B"),
                                       ("T", "主题信息", "topic", None)]:
        tree[code] = Category.objects.create(code=code, name=name, name_en=name,
                                             branch=branch,
                                             parent=tree[parent] if parent else None)

    provider, provider_b = users["provider"], users["provider_b"]
    open_one = catalog.create_resource(by=provider, code="RS-OPEN", category=tree["B01"],
                                       items=ITEMS, **resource_fields())
    catalog.publish_resource(by=provider, resource=open_one)
    quality.add_rule(by=provider, resource=open_one, item_name="uscc", check="not_null")
    cond = catalog.create_resource(
        by=provider, code="RS-COND", category=tree["B01"], items=ITEMS[1:],
        **resource_fields(name="企业年报", sharing="conditional", opening="conditional",
                          sharing_basis="《公共数据共享管理办法》第十二条", grade="important"))
    catalog.publish_resource(by=provider, resource=cond)
    closed = catalog.create_resource(
        by=provider, code="RS-CLOSED", category=tree["B"], items=[],
        **resource_fields(name="执法记录", sharing="not_shareable", opening="not_open",
                          sharing_basis="涉及执法秘密", grade="core", sensitivity=4))
    catalog.publish_resource(by=provider, resource=closed)
    catalog.create_resource(by=provider, code="RS-DRAFT", category=tree["T"], items=[],
                            **resource_fields(name="草稿目录"))
    other = catalog.create_resource(by=provider_b, code="RS-B", category=tree["T"], items=[],
                                    **resource_fields(name="地理信息"))
    catalog.publish_resource(by=provider_b, resource=other)

    operator = made["operator"]
    now = datetime.now(UTC)
    for resource in (open_one, cond):
        Grant.objects.create(grantee=operator, resource=resource, purpose="产品开发",
                             valid_from=now - timedelta(days=1),
                             valid_until=now + timedelta(days=365))
    access.grant_restricted_view(operator, cond)

    maker = users["operator"]
    for code, state in [("DP-DRAFT", "draft"), ("DP-SUBMITTED", "submitted"),
                        ("DP-LISTED", "listed")]:
        product = products.create_product(by=maker, code=code, name=f"产品 {code}",
                                         resources=[cond], price="1250.00")
        if state in ("submitted", "listed"):
            products.submit_product(by=maker, product=product)
        if state == "listed":
            products.review_product(by=reviewer, product=product, action="list",
                                    reason="试点产品，合规认证在办")
    return world


def _empty_all_tables() -> None:
    from django.core.management import call_command
    from django.db import connection

    from ledger import triggers

    triggers.drop(connection)
    try:
        call_command("flush", interactive=False, verbosity=0)
    finally:
        triggers.install(connection)


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    with django_db_blocker.unblock():
        _empty_all_tables()
        try:
            yield build_world()
        finally:
            from django.db import connections

            connections.close_all()
            _empty_all_tables()


@pytest.fixture
def w(world: World, db: None) -> World:
    """The world, inside this test's transaction."""
    return world


class Api:
    """Clients acting as each role; ``as_(role)`` signs in with that role's token."""

    def __init__(self, world: World) -> None:
        self.world = world

    def as_(self, role: str | None, language: str = "en") -> APIClient:
        """A client in ``language`` (English: what the expectations are written in)."""
        client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
        if role is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {self.world.tokens[role]}")
        return client

    @property
    def anon(self) -> APIClient:
        return APIClient(HTTP_ACCEPT_LANGUAGE="en")



@pytest.fixture
def api(w: World) -> Api:
    return Api(w)


def entries() -> int:
    return Entry.objects.count()


def resource(code: str) -> DataResource:
    return DataResource.objects.get(code=code)
