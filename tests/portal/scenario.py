"""A small world for the portal tests, built only through the services: every role, a
catalogue, each workflow in a few states. Users have the password ``demo-pass-123``.

Also usable by hand, to look at the pages::

    SHULIAN_DATA_DIR=/tmp/shulian-portal python manage.py shell -c \
        "from tests.portal.scenario import build; build()"
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from catalog import services as catalog
from catalog.models import Category, DataProduct, DataResource
from contracts import calendar, common, objections, products
from contracts import services as contracts
from contracts.models import (
    ErasureRequest,
    Grant,
    Objection,
    OperationAgreement,
    Order,
    SharingRequest,
)
from ledger import services as ledger
from operators import services as operators
from operators import uscc
from operators.models import Kind, Participant, Role

PASSWORD = "demo-pass-123"
_serial = itertools.count(1)


def _code(kind: str) -> str:
    prefix = "11" if kind in (Kind.PROVIDER, Kind.AUTHORITY, Kind.REGULATOR) else "91"
    return uscc.make(prefix, "350100", f"P{next(_serial):07d}")


def person(username: str) -> AbstractBaseUser:
    return get_user_model().objects.create_user(username=username, password=PASSWORD)


@dataclass
class World:
    users: dict[str, AbstractBaseUser] = field(default_factory=dict)
    parties: dict[str, Participant] = field(default_factory=dict)
    resources: dict[str, DataResource] = field(default_factory=dict)
    requests: dict[str, SharingRequest] = field(default_factory=dict)
    agreement: OperationAgreement | None = None
    grants: dict[str, Grant] = field(default_factory=dict)
    objections: dict[str, Objection] = field(default_factory=dict)
    product: DataProduct | None = None
    orders: dict[str, Order] = field(default_factory=dict)
    erasures: dict[str, ErasureRequest] = field(default_factory=dict)


def _member(world: World, key: str, party: Participant, role: str = Role.ADMIN) -> None:
    user = person(key)
    operators.add_member(participant=party, user=user, role=role, by=None)
    world.users[key] = user
    world.parties[key] = party


def _departments(world: World) -> None:
    authority = operators.register_department(code=_code(Kind.AUTHORITY), name_zh="市数据局",
                                              name_en="Municipal Data Bureau",
                                              kind=Kind.AUTHORITY)
    _member(world, "authority", authority, Role.REVIEWER)
    for key, kind, zh, en in [
        ("provider", Kind.PROVIDER, "市市场监督管理局", "Market Regulation Bureau"),
        ("provider2", Kind.PROVIDER, "市人力资源和社会保障局", "Human Resources Bureau"),
        ("regulator", Kind.REGULATOR, "市网信办", "Cyberspace Office"),
        ("auditor", Kind.AUDITOR, "审计中心", "Audit Centre"),
    ]:
        body = operators.register_department(code=_code(kind), name_zh=zh, name_en=en,
                                             kind=kind, by=authority)
        _member(world, key, body)


def _company(world: World, key: str, kind: str, zh: str, admit: bool = True,
             **extra: str) -> None:
    user = person(key)
    party = operators.apply_for_admission(code=_code(kind), name_zh=zh, kind=kind,
                                          applicant=user, contact_name="张三",
                                          contact_phone="0591-12345678",
                                          contact_email=f"{key}@example.cn", **extra)
    if admit:
        for action in ("start_review", "admit"):
            party = operators.review_registration(participant=party, action=action,
                                                  by=world.users["authority"])
    world.users[key], world.parties[key] = user, party


ITEMS = [
    {"name": "统一社会信用代码", "data_type": "string", "standard_code": "DE0001",
     "authoritative": True, "sensitivity": 1},
    {"name": "企业名称", "data_type": "string", "sensitivity": 1},
    {"name": "法定代表人", "data_type": "string", "sensitivity": 3,
     "personal_information": True, "desensitisation": "mask"},
]


def _resources(world: World) -> None:
    base, _ = Category.objects.get_or_create(code="B01", defaults={
        "name": "法人单位", "name_en": "Legal entities", "branch": Category.Branch.BASE})
    topic, _ = Category.objects.get_or_create(code="T01", defaults={
        "name": "社会保障", "name_en": "Social security", "branch": Category.Branch.TOPIC})
    specs = [
        ("conditional", "provider", base, "350100-SCJG-0001", "企业登记信息",
         "Enterprise registrations", "conditional", "conditional", ITEMS),
        ("open", "provider", base, "350100-SCJG-0002", "企业年报公示", "Annual reports",
         "unconditional", "open", [{"name": "年度", "data_type": "integer"},
                                   {"name": "企业名称", "data_type": "string"}]),
        ("closed", "provider2", topic, "350100-RSJ-0001", "参保人员明细", "Insured persons",
         "not_shareable", "not_open", [{"name": "姓名", "data_type": "string",
                                        "personal_information": True,
                                        "desensitisation": "mask", "sensitivity": 4}]),
    ]
    for key, owner, category, code, zh, en, share, opening, items in specs:
        resource = catalog.create_resource(
            by=world.users[owner], code=code, category=category, items=items, name=zh,
            name_en=en, description=f"{zh}（示例数据）", grade="important" if key != "open"
            else "general", sensitivity=2, sharing=share,
            sharing_basis="" if share == "unconditional" else "《公共数据共享管理办法》第十条",
            opening=opening, update_frequency="daily", data_format="CSV")
        world.resources[key] = catalog.publish_resource(by=world.users[owner],
                                                        resource=resource)


def _sharing(world: World) -> None:
    today = calendar.local_date(common.now())
    period = {"period_from": today, "period_until": today + timedelta(days=180)}
    ask = contracts.request_sharing
    world.requests["pending"] = ask(
        by=world.users["provider2"], resource=world.resources["conditional"],
        purpose="核验参保企业身份", scenario="社保登记", legal_basis="《社会保险法》",
        items=["统一社会信用代码", "企业名称"], **period)
    world.requests["auto"] = ask(
        by=world.users["provider2"], resource=world.resources["open"], purpose="统计分析",
        scenario="年度统计", legal_basis="《统计法》", **period)
    world.requests["refused"] = ask(
        by=world.users["operator"], resource=world.resources["closed"], purpose="产品开发",
        scenario="征信", legal_basis="授权运营协议", **period)
    world.grants["shared"] = Grant.objects.get(sharing_request=world.requests["auto"])


def _agreement(world: World) -> None:
    today = calendar.local_date(common.now())
    agreement = contracts.create_agreement(
        by=world.users["authority"], operator=world.parties["operator"],
        resources=[world.resources["conditional"]], scenarios="企业信用评估",
        security_obligations="等保三级；数据不出域", desensitisation_rules="法定代表人姓名掩码",
        term_start=today, term_end=today + timedelta(days=365), code="OA-DEMO-001")
    contracts.sign_agreement(by=world.users["authority"], agreement=agreement)
    world.agreement = contracts.sign_agreement(by=world.users["operator"], agreement=agreement)
    world.grants["agreement"] = Grant.objects.get(agreement=agreement)
    draft = contracts.create_agreement(
        by=world.users["authority"], operator=world.parties["operator"],
        resources=[world.resources["open"]], scenarios="年报数据产品",
        security_obligations="等保二级", desensitisation_rules="无",
        term_start=today, term_end=today + timedelta(days=90), code="OA-DEMO-002")
    world.agreements_draft = draft  # type: ignore[attr-defined]
    contracts.record_delivery(by=world.users["provider"], grant=world.grants["shared"],
                              rows=1200, desensitisation={"年度": "none", "企业名称": "none"},
                              data=b"year,name\n2025,demo\n")


def _objections(world: World) -> None:
    world.objections["filed"] = contracts.file_objection(
        by=world.users["citizen"], resource=world.resources["open"], ground="timeliness",
        description="2025 年报未更新。", contact={"phone": "13912345678"})
    contact = objections.contact_entry(world.objections["filed"])
    assert contact is not None
    (world.erasures["filed"],) = contracts.request_erasure(
        by=world.users["citizen"], ground="consent", seq=contact.seq)
    corrected = contracts.file_objection(
        by=world.users["merchant"], resource=world.resources["conditional"], ground="accuracy",
        description="企业名称登记有误。")
    provider = world.users["provider"]
    contracts.accept_objection(by=provider, objection=corrected)
    contracts.start_verification(by=provider, objection=corrected)
    world.objections["corrected"] = contracts.correct_objection(
        by=provider, objection=corrected, correction="已更正企业名称。")


def _market(world: World) -> None:
    operator = world.users["operator"]
    product = products.create_product(by=operator, code="P-CREDIT-01", name="企业信用画像",
                                     resources=[world.resources["conditional"]],
                                     price="1250.00", description="基于企业登记信息的信用评估")
    products.submit_product(by=operator, product=product)
    world.product = products.review_product(by=world.users["authority"], product=product,
                                           action="list", reason="试点产品，合规认证在办")
    merchant = world.users["merchant"]
    done = contracts.place_order(by=merchant, product=world.product)
    contracts.sign_order(by=merchant, order=done)
    contracts.sign_order(by=operator, order=done)
    contracts.deliver_order(by=operator, order=done, data=b"delivered rows")
    contracts.accept_delivery(by=merchant, order=done)
    world.orders["settled"] = contracts.settle_order(by=operator, order=done,
                                                     amount="1250.00", currency="CNY")
    world.orders["new"] = contracts.place_order(by=merchant, product=world.product)


def build() -> World:
    """The whole scenario (a few seconds: every step signs and appends an entry)."""
    ledger.ensure_ledger_key()
    world = World()
    _departments(world)
    _company(world, "operator", Kind.OPERATOR, "数智运营有限公司")
    _company(world, "merchant", Kind.MERCHANT, "数据商贸有限公司", merchant_type="technical")
    _company(world, "notary", Kind.THIRD_PARTY, "公证数据服务有限公司",
             service_type="notarisation")
    _company(world, "applicant", Kind.MERCHANT, "申请中科技有限公司", admit=False,
             merchant_type="application")
    world.users["citizen"] = person("citizen")
    _resources(world)
    _sharing(world)
    _agreement(world)
    _objections(world)
    _market(world)
    ledger.seal_checkpoint()
    return world


def users() -> dict[str, Any]:
    return {u.get_username(): u for u in get_user_model().objects.all()}
