"""Demo workflows on top of the demo participants and catalogue (``manage.py load_demo``).

Agreements signed by both sides (their grants let demo.catalogue build its products), one
awaiting the operator's signature and one suspended; sharing requests in every state;
deliveries; a revoked grant; objections (one corrected, one upheld, one appealed, one
overdue and escalated, one being handled), the citizen's with contact details, and the
citizen's erasure requests of them (one approved, one refused and appealed, one awaiting the
provider); a listed product with orders closed, disputed, contracted and
cancelled. Every step goes through the services, so each is on the ledger.

Two filings (a sharing request and an objection) are backdated with a demo-only clock
shift, so that their deadlines have passed and the platform escalates them: their entries
are recorded now and carry the earlier deadlines. Idempotent: each item is made once (in
one transaction), recognised by its code or its requester, resource and purpose.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User as Person
from django.db import transaction
from django.db.models import Count

from catalog.models import DataProduct, DataResource, ProductStatus
from contracts import (
    agreements,
    common,
    deadlines,
    erasure,
    grants,
    objections,
    orders,
    products,
    sharing,
    tasks,
)
from contracts.calendar import local_date
from contracts.models import (
    ErasureRequest,
    ErasureTarget,
    Grant,
    Objection,
    OperationAgreement,
    Order,
    SharingRequest,
)
from demo import catalogue
from demo import participants as people
from operators.models import Participant

CITIZEN = "citizen"  # a data subject with an account and no participant
AGREEMENT_CREDIT = "OA-FZ-2026-001"
AGREEMENT_TRANSPORT = "OA-FZ-2026-002"
AGREEMENT_HAZARDS = "OA-FZ-2026-003"
AGREEMENT_LICENCES = "OA-FZ-2026-004"
PRODUCT_PARKING = "DP-PARKING-001"


def _person(username: str) -> Person:
    return get_user_model().objects.get(username=username)


def _party(code: str) -> Participant:
    return Participant.objects.get(code=code)


def _resource(code: str) -> DataResource:
    return DataResource.objects.get(code=code)


def _today() -> date:
    return local_date(common.now())


@contextlib.contextmanager
def _backdated(days: int) -> Iterator[None]:
    """Demo only: the workflows' clock runs ``days`` earlier inside the block."""
    real = common.now
    moment = real() - timedelta(days=days)
    common.now = lambda: moment
    try:
        yield
    finally:
        common.now = real


def _filed_then(obj: Any) -> None:
    """Demo only: an object filed on the backdated clock says so itself, so that it was
    filed before its deadline (its ledger entry is recorded when load_demo runs)."""
    type(obj).objects.filter(pk=obj.pk).update(created=common.now())
    obj.refresh_from_db(fields=["created"])


def _once(exists: bool, make: Callable[[], str], label: str) -> str:
    if exists:
        return f"  exists     {label}"
    with transaction.atomic():
        return f"  {make():10} {label}"


# --- authorised operation ------------------------------------------------------------------

AGREEMENTS = [  # code, operator, username, resources, scenarios, signers, then
    (AGREEMENT_CREDIT, people.OPERATOR_CITY, people.USER_OPERATOR,
     [catalogue.MARKET_ENTITIES, catalogue.MARKET_PENALTIES],
     "企业信用评价、普惠金融授信辅助", ("authority", "operator"), None),
    (AGREEMENT_TRANSPORT, people.OPERATOR_TRANSPORT, people.USER_OPERATOR_TRANSPORT,
     [catalogue.TRANSPORT_BUS, catalogue.TRANSPORT_TAXI, catalogue.TRANSPORT_PARKING],
     "城市出行服务、交通规划辅助决策", ("authority", "operator"), None),
    (AGREEMENT_HAZARDS, people.OPERATOR_CITY, people.USER_OPERATOR, [catalogue.LAND_HAZARDS],
     "灾害风险保险精算", ("authority",), None),
    (AGREEMENT_LICENCES, people.OPERATOR_TRANSPORT, people.USER_OPERATOR_TRANSPORT,
     [catalogue.TRANSPORT_LICENCES], "道路运输企业资质核验", ("authority", "operator"),
     "数据安全评估发现日志留存不足，暂停至整改完成"),
]


def _agreement(code: str, operator: str, username: str, resources: list[str], scenarios: str,
               signers: tuple[str, ...], suspension: str | None) -> Callable[[], str]:
    def make() -> str:
        authority = _person(people.USER_AUTHORITY)
        made = agreements.create_agreement(
            by=authority, code=code, operator=_party(operator),
            resources=[_resource(r) for r in resources], scenarios=scenarios,
            security_obligations="数据不出域、可用不可见；访问日志留存不少于六个月；年度安全评估",
            desensitisation_rules="个人信息按目录规则掩码、哈希或泛化后交付",
            term_start=_today(), term_end=_today().replace(year=_today().year + 2),
        )
        for side in signers:
            agreements.sign_agreement(by=authority if side == "authority" else
                                      _person(username), agreement=made)
        if suspension:
            agreements.suspend_agreement(by=authority, agreement=made, reason=suspension)
        return OperationAgreement.objects.get(pk=made.pk).state
    return make


# --- sharing requests -------------------------------------------------------------------------

REQUESTS = [  # requester, username, resource, items, purpose, then what happens
    (people.TRANSPORT, people.USER_TRANSPORT, catalogue.MARKET_ENTITIES,
     ["统一社会信用代码", "企业名称", "登记状态"], "道路运输经营者主体资格核验", "revoke"),
    (people.NATURAL_RESOURCES, people.USER_LAND, catalogue.MARKET_PENALTIES, [],
     "用地审批中核查申请人违法记录", "pending"),
    (people.MARKET, people.USER_MARKET, catalogue.LAND_HAZARDS, ["隐患点编号", "灾害类型"],
     "特种设备安全风险研判", "approve"),
    (people.NATURAL_RESOURCES, people.USER_LAND, catalogue.TRANSPORT_TAXI, ["上车时间"],
     "城市更新片区人流分析", "refuse"),
    (people.OPERATOR_CITY, people.USER_OPERATOR, catalogue.TRANSPORT_TAXI, [],
     "夜间经济热力图", "withdraw"),
    (people.OPERATOR_TRANSPORT, people.USER_OPERATOR_TRANSPORT, catalogue.LAND_REAL_ESTATE,
     [], "二手房通勤评估", "none"),  # not shareable: refused at once
    (people.TRANSPORT, people.USER_TRANSPORT, catalogue.LAND_HAZARDS, [],
     "公路沿线地质灾害预警", "overdue"),
]
LEGAL_BASIS = "《福建省大数据发展条例》第二十七条"
PROVIDER_USER = {people.MARKET: people.USER_MARKET, people.NATURAL_RESOURCES: people.USER_LAND,
                 people.TRANSPORT: people.USER_TRANSPORT}


def _request(requester: str, username: str, resource: str, items: list[str], purpose: str,
             then: str) -> Callable[[], str]:
    def make() -> str:
        target = _resource(resource)
        ask: dict[str, Any] = {"by": _person(username), "resource": target, "items": items,
                               "purpose": purpose, "scenario": "政务服务",
                               "legal_basis": LEGAL_BASIS, "period_from": _today(),
                               "period_until": deadlines.last_day_of_term(_today(), 12)}
        with _backdated(14) if then == "overdue" else contextlib.nullcontext():
            made = sharing.request_sharing(**ask)
            _filed_then(made)
        provider = _person(PROVIDER_USER[target.provider.code])
        if then == "approve":
            sharing.approve_request(by=provider, request=made,
                                    conditions="仅限本部门履职使用，不得向第三方提供")
        elif then == "refuse":
            sharing.refuse_request(by=provider, request=made,
                                   reason="申请用途与订单数据的最小必要范围不符，请改用聚合统计数据")
        elif then == "withdraw":
            sharing.withdraw_request(by=_person(username), request=made, reason="改用授权运营渠道")
        elif then == "revoke":
            grant = Grant.objects.get(sharing_request=made)
            grants.record_delivery(by=provider, grant=grant, rows=2480,
                                   desensitisation={"统一社会信用代码": "none", "企业名称": "none",
                                                    "登记状态": "none"},
                                   data=b"demo: market entities for transport licensing")
            grants.revoke_grant(by=provider, grant=grant, reason="核验任务已完成，收回共享权限")
        return SharingRequest.objects.get(pk=made.pk).state
    return make


# --- deliveries under agreements -----------------------------------------------------------

DELIVERIES = [  # agreement, resource, provider username, rows, desensitisation
    (AGREEMENT_CREDIT, catalogue.MARKET_ENTITIES, people.USER_MARKET, 186_420,
     {"统一社会信用代码": "none", "企业名称": "none", "法定代表人": "mask", "登记状态": "none"}),
    (AGREEMENT_CREDIT, catalogue.MARKET_PENALTIES, people.USER_MARKET, 3_215,
     {"处罚决定书文号": "none", "统一社会信用代码": "none", "违法行为类型": "none"}),
    (AGREEMENT_TRANSPORT, catalogue.TRANSPORT_TAXI, people.USER_TRANSPORT, 1_204_377,
     {"车牌号": "mask", "上车时间": "none", "上车位置": "generalise", "下车时间": "none",
      "下车位置": "generalise", "里程": "none"}),
]


def _delivery(code: str, resource: str, username: str, rows: int,
              rules: dict[str, str]) -> Callable[[], str]:
    def make() -> str:
        grant = Grant.objects.get(agreement__code=code, resource__code=resource)
        grants.record_delivery(by=_person(username), grant=grant, rows=rows,
                               desensitisation=rules,
                               data=f"demo delivery {code} {resource} {rows}".encode())
        return "delivered"
    return make


# --- objections -------------------------------------------------------------------------------

OBJECTION_LEGAL_PERSON = "本人已于上月办理法定代表人变更登记，目录数据仍显示原法定代表人。"
OBJECTION_ZONING = "本人住宅所在地块被标注为工业用地，与规划公示不符。"
OBJECTION_BUS = "公交19路“西湖公园”站的首末班时间与站牌公示不一致。"
OBJECTIONS = [  # username, resource, ground, description, path, the filer's contact details
    (CITIZEN, catalogue.MARKET_ENTITIES, "accuracy", OBJECTION_LEGAL_PERSON,
     ["accept", "verify", "correct"],
     {"name": "陈先生", "phone": "13705910001", "email": ""}),
    (people.USER_TECH, catalogue.TRANSPORT_BUS, "completeness",
     "20路公交部分站点名称为空，数据不完整。", ["accept", "verify", "uphold"], None),
    (CITIZEN, catalogue.LAND_ZONING, "accuracy", OBJECTION_ZONING,
     ["accept", "verify", "dismiss", "appeal"],
     {"name": "陈先生", "phone": "13705910001", "email": "chen@example.com"}),
    (people.USER_SERVICE, catalogue.TRANSPORT_PARKING, "timeliness",
     "多个停车场剩余泊位数据超过两小时未更新。", ["overdue"], None),
    (CITIZEN, catalogue.TRANSPORT_BUS, "timeliness", OBJECTION_BUS, ["accept"],
     {"name": "", "phone": "", "email": "chen@example.com"}),
]


def _objection(username: str, resource: str, ground: str, description: str,
               path: list[str], contact: dict[str, str] | None) -> Callable[[], str]:
    def make() -> str:
        filer = _person(username)
        target = _resource(resource)
        with _backdated(10) if "overdue" in path else contextlib.nullcontext():
            filed = objections.file_objection(by=filer, resource=target, ground=ground,
                                              description=description, contact=contact)
            _filed_then(filed)
        provider = _person(PROVIDER_USER[target.provider.code])
        steps: dict[str, Callable[[], Any]] = {
            "accept": lambda: objections.accept_objection(by=provider, objection=filed),
            "verify": lambda: objections.start_verification(by=provider, objection=filed),
            "correct": lambda: objections.correct_objection(
                by=provider, objection=filed,
                correction="经核实，已按最新登记信息更正该市场主体的法定代表人（更正记录见附件）"),
            "uphold": lambda: objections.uphold_objection(
                by=provider, objection=filed,
                reason="经核实，相关站点为临时停靠点，站名空缺符合数据标准，原数据无误"),
            "dismiss": lambda: objections.dismiss_objection(
                by=provider, objection=filed,
                reason="经核实，该地块用途分区以批准的国土空间总体规划为准，异议不成立"),
            "appeal": lambda: objections.appeal_objection(
                by=filer, objection=filed, reason="规划公示材料与答复不一致，申请复核"),
            "overdue": lambda: None,
        }
        for step in path:
            steps[step]()
        return Objection.objects.get(pk=filed.pk).state
    return make


# --- erasure requests (个人信息删除请求) ------------------------------------------------------

ERASURES = [  # the objection whose contact details the citizen wants erased, ground, reason, path
    (OBJECTION_LEGAL_PERSON, "purpose", "异议已更正办结，无需再保留我的联系方式。", ["approve"]),
    (OBJECTION_ZONING, "consent", "撤回对保留联系方式的同意。", ["refuse", "appeal"]),
    (OBJECTION_BUS, "consent", "不希望继续保存我的邮箱。", []),
]


def _erasure(description: str, ground: str, reason: str,
             path: list[str]) -> Callable[[], str]:
    def make() -> str:
        citizen = _person(CITIZEN)
        objection = Objection.objects.select_related("resource__provider").get(
            description=description)
        contact = objections.contact_entry(objection)
        assert contact is not None
        (made,) = erasure.request_erasure(by=citizen, ground=ground, seq=contact.seq,
                                          reason=reason)
        provider = _person(PROVIDER_USER[objection.resource.provider.code])
        steps: dict[str, Callable[[], Any]] = {
            "approve": lambda: erasure.approve_erasure(by=provider, request=made),
            "refuse": lambda: erasure.refuse_erasure(
                by=provider, request=made,
                reason="该异议正在复核，复核期间需保留联系方式以便告知结果"),
            "appeal": lambda: erasure.appeal_erasure(
                by=citizen, request=made, reason="复核结果可通过平台站内信告知，无需电话"),
        }
        for step in path:
            steps[step]()
        return ErasureRequest.objects.get(pk=made.pk).state
    return make


# --- a listed product and its orders ------------------------------------------------------

ORDERS = [  # buyer code, buyer username, path
    (people.MERCHANT_APPLICATION, people.USER_APP,
     ["sign", "notarise", "deliver", "accept", "settle", "close"]),
    (people.MERCHANT_TECHNICAL, people.USER_TECH, ["sign", "deliver", "dispute"]),
    (people.MERCHANT_SERVICE, people.USER_SERVICE, ["sign"]),
    (people.OPERATOR_CITY, people.USER_OPERATOR, ["cancel"]),
]


def _product() -> DataProduct:
    found = DataProduct.objects.filter(code=PRODUCT_PARKING).first()
    if found is not None:
        return found
    seller = _person(people.USER_OPERATOR_TRANSPORT)
    product = products.create_product(
        by=seller, code=PRODUCT_PARKING, name="停车泊位实时查询服务",
        description="全市公共停车场剩余泊位的实时查询接口（按分钟更新）",
        resources=[_resource(catalogue.TRANSPORT_PARKING)], price="5000.00")
    products.submit_product(by=seller, product=product)
    products.attach_certificate(
        by=_person(people.USER_CERTIFIER), product=product, kind="certification",
        document_name="合规认证报告-停车泊位实时查询服务.pdf",
        document="合规认证报告\nDP-PARKING-001 停车泊位实时查询服务\n".encode(),
        summary="数据来源合法、处理过程合规，准予申请挂牌")
    return products.review_product(by=_person(people.USER_AUTHORITY), product=product,
                                  action="list")


def _order(product: DataProduct, buyer: str, path: list[str]) -> Callable[[], str]:
    def make() -> str:
        purchaser = _person(buyer)
        seller = _person(people.USER_OPERATOR_TRANSPORT)
        placed = orders.place_order(by=purchaser, product=product)
        steps: dict[str, Callable[[], Any]] = {
            "sign": lambda: (orders.sign_order(by=purchaser, order=placed),
                             orders.sign_order(by=seller, order=placed)),
            "notarise": lambda: orders.notarise_order(by=_person(people.USER_NOTARY),
                                                      order=placed,
                                                      document=b"demo notarial certificate"),
            "deliver": lambda: orders.deliver_order(by=seller, order=placed,
                                                    data=b"demo parking API credentials"),
            "accept": lambda: orders.accept_delivery(by=purchaser, order=placed),
            "dispute": lambda: orders.dispute_delivery(by=purchaser, order=placed,
                                                       reason="接口缺少更新时间字段，与产品说明不符"),
            "settle": lambda: orders.settle_order(by=seller, order=placed, amount="5000.00",
                                                  currency="CNY"),
            "close": lambda: orders.close_order(by=purchaser, order=placed),
            "cancel": lambda: orders.cancel_order(by=purchaser, order=placed,
                                                  reason="预算调整，暂不采购"),
        }
        for step in path:
            steps[step]()
        return Order.objects.get(pk=placed.pk).state
    return make


def _citizen() -> str:
    users = get_user_model()
    if users.objects.filter(username=CITIZEN).exists():
        return f"  exists     user {CITIZEN} (a data subject, no participant)"
    people.demo_user(CITIZEN)
    return (f"  created    user {CITIZEN} / {people.password(CITIZEN)} "
            "(a data subject, no participant; DEMO-ONLY password)")


def load() -> Iterator[str]:
    """Add the demo workflows (idempotent); one line per item."""
    yield _citizen()
    for code, operator, username, resources, scenarios, signers, suspension in AGREEMENTS:
        yield _once(OperationAgreement.objects.filter(code=code).exists(),
                    _agreement(code, operator, username, resources, scenarios, signers,
                               suspension),
                    f"agreement {code} with {operator}")
    for requester, username, resource, items, purpose, then in REQUESTS:
        exists = SharingRequest.objects.filter(requester__code=requester,
                                               resource__code=resource,
                                               purpose=purpose).exists()
        yield _once(exists, _request(requester, username, resource, items, purpose, then),
                    f"sharing request {requester} -> {resource} ({purpose})")
    for code, resource, username, rows, rules in DELIVERIES:
        exists = Grant.objects.filter(agreement__code=code, resource__code=resource,
                                      deliveries__isnull=False).exists()
        yield _once(exists, _delivery(code, resource, username, rows, rules),
                    f"delivery under {code} of {resource}: {rows} rows")
    for username, resource, ground, description, path, contact in OBJECTIONS:
        exists = Objection.objects.filter(resource__code=resource,
                                          description=description).exists()
        yield _once(exists, _objection(username, resource, ground, description, path,
                                       contact), f"objection ({ground}) on {resource}")
    for description, ground, reason, path in ERASURES:
        held = objections.contact_entry(Objection.objects.get(description=description))
        exists = held is None or ErasureTarget.objects.filter(entry=held).exists()
        yield _once(exists, _erasure(description, ground, reason, path),
                    f"erasure request ({ground}) of a citizen's contact details")
    product = _product()
    for buyer_code, buyer, path in ORDERS:
        exists = Order.objects.filter(product=product, buyer__code=buyer_code).exists()
        yield _once(exists, _order(product, buyer, path),
                    f"order of {product.code} by {buyer_code}")
    done = tasks.escalate_overdue()
    yield (f"  escalated  {done['requests']} overdue request(s), "
           f"{done['objections']} overdue objection(s)")


def summary() -> dict[str, Any]:
    """Counts per state, for tests and the console."""
    return {
        "agreements": dict(_states(OperationAgreement)), "requests": dict(_states(SharingRequest)),
        "objections": dict(_states(Objection)), "orders": dict(_states(Order)),
        "erasures": dict(_states(ErasureRequest)),
        "listed": DataProduct.objects.filter(status=ProductStatus.LISTED).count(),
    }


def _states(model: Any) -> Iterator[tuple[str, int]]:
    for row in model.objects.values("state").annotate(n=Count("pk")).order_by("state"):
        yield row["state"], row["n"]
