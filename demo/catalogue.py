"""The demo catalogue (数据资源目录) of the three provider departments, and demo products.

``load()`` builds the category tree and publishes the resources (one stays a draft, one is
revised, one withdrawn), with data items whose standard codes make the 一数一源 claims,
quality rules and two quality checks (one failing). ``load_products()`` makes the demo
products once their owners hold grants (contracts' demo signs the agreements that give
them); it skips, saying why, when a grant is missing. Both are idempotent.

The resource and product codes below are fixed for other demo modules and browser tests.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User as Person
from django.db import transaction

from catalog import quality, services
from catalog.models import Category, DataProduct, DataResource, ProductStatus, ResourceStatus
from contracts import products
from contracts import selectors as contracts
from demo import participants as people
from operators import uscc
from operators.models import Participant

# --- resource codes ------------------------------------------------------------------------
MARKET_ENTITIES = "SCJG-001"  # 市场主体登记信息 (open; source of the USCC standard)
MARKET_PENALTIES = "SCJG-002"  # 行政处罚信息 (conditional; revised once)
MARKET_FOOD_LICENCES = "SCJG-003"  # 食品经营许可证信息 (open)
MARKET_EQUIPMENT = "SCJG-004"  # 特种设备使用登记信息 (not open)
LAND_REAL_ESTATE = "ZRZY-001"  # 不动产登记信息 (core, not shareable)
LAND_ZONING = "ZRZY-002"  # 国土空间规划用途分区 (open)
LAND_HAZARDS = "ZRZY-003"  # 地质灾害隐患点 (conditional)
LAND_APPROVALS = "ZRZY-004"  # 建设用地审批信息 (a draft)
TRANSPORT_BUS = "JTYS-001"  # 公交线路及站点 (open; fails its quality check)
TRANSPORT_LICENCES = "JTYS-002"  # 道路运输经营许可信息 (conditional)
TRANSPORT_TAXI = "JTYS-003"  # 出租汽车运营订单 (conditional)
TRANSPORT_PARKING = "JTYS-004"  # 公共停车场实时泊位 (open, real time)
TRANSPORT_VEHICLES = "JTYS-005"  # 重点营运车辆动态监控 (core, not open)
TRANSPORT_SPRING_2025 = "JTYS-006"  # 2025年春运客流统计 (withdrawn)

# --- product codes ---------------------------------------------------------------------------
PRODUCT_CREDIT = "DP-CREDIT-001"  # 企业信用画像, by the city operator (submitted, certified)
PRODUCT_TRANSIT = "DP-TRANSIT-001"  # 公交出行热度指数, by the transport operator (a draft)

REGISTRATION_STATES = ["存续", "在业", "吊销", "注销", "迁出"]
USCC_PATTERN = "[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}"

CATEGORIES = [  # code, name, English name, branch, parent
    ("JC", "基础信息资源", "Base data", "base", None),
    ("JC01", "人口基础信息", "Population", "base", "JC"),
    ("JC02", "法人单位基础信息", "Legal entities", "base", "JC"),
    ("JC03", "自然资源和空间地理基础信息", "Natural resources and geography", "base", "JC"),
    ("JC04", "电子证照基础信息", "Electronic licences", "base", "JC"),
    ("ZT", "主题信息资源", "Topics", "topic", None),
    ("ZT01", "社会信用", "Social credit", "topic", "ZT"),
    ("ZT02", "交通出行", "Transport and travel", "topic", "ZT"),
    ("ZT03", "城市规划建设", "Urban planning", "topic", "ZT"),
    ("ZT0201", "公共交通", "Public transport", "topic", "ZT02"),
    ("BM", "部门信息资源", "Departments", "department", None),
    ("BM01", "市场监管", "Market regulation", "department", "BM"),
    ("BM02", "自然资源和规划", "Natural resources and planning", "department", "BM"),
    ("BM03", "交通运输", "Transport", "department", "BM"),
]

PERSONAL = "依据《中华人民共和国个人信息保护法》《福建省大数据发展条例》，含个人信息，" \
    "经提供部门审核、按最小必要原则共享"
SAFETY = "依据《中华人民共和国数据安全法》《公共数据资源登记管理暂行办法》，涉及重要数据，" \
    "限于履职需要并经审核共享"


def item(name: str, data_type: str, description: str = "", *, standard: str = "",
         source: bool = False, level: int = 1, personal: bool = False,
         rule: str = "none") -> dict[str, Any]:
    return {"name": name, "data_type": data_type, "description": description,
            "standard_code": standard, "authoritative": source, "sensitivity": level,
            "personal_information": personal, "desensitisation": rule}


@dataclass(frozen=True)
class DemoResource:
    code: str
    provider: str  # participant code
    by: str  # username of the provider's person who creates it
    category: str
    name: str
    name_en: str
    description: str
    grade: str
    sensitivity: int
    sharing: str
    opening: str
    update_frequency: str
    source_system: str
    responsible_person: str
    items: list[dict[str, Any]]
    sharing_basis: str = ""
    data_format: str = "CSV"
    state: str = ResourceStatus.PUBLISHED
    revision: dict[str, Any] = field(default_factory=dict)  # applied after publishing
    rules: list[tuple[str, str, dict[str, Any], int]] = field(default_factory=list)


M, L, T = people.MARKET, people.NATURAL_RESOURCES, people.TRANSPORT
RESOURCES = [
    DemoResource(
        MARKET_ENTITIES, M, people.USER_MARKET, "JC02", "市场主体登记信息",
        "Market entity registrations", "全市企业、个体工商户等市场主体的登记信息", "general", 2,
        "unconditional", "open", "daily", "福建省市场主体登记系统", "林芳",
        [item("统一社会信用代码", "string", "18位统一社会信用代码", standard="DE-FZ-0001",
              source=True),
         item("企业名称", "string", standard="DE-FZ-0002", source=True),
         item("法定代表人", "string", level=3, personal=True, rule="mask"),
         item("登记状态", "string", "存续、在业、吊销、注销、迁出"),
         item("更新日期", "date")],
        rules=[("统一社会信用代码", "not_null", {}, 100),
               ("统一社会信用代码", "pattern", {"pattern": USCC_PATTERN}, 100),
               ("统一社会信用代码", "uniqueness", {}, 100),
               ("登记状态", "enumeration", {"values": REGISTRATION_STATES}, 100),
               ("更新日期", "freshness", {}, 95)],
    ),
    DemoResource(
        MARKET_PENALTIES, M, people.USER_MARKET, "ZT01", "行政处罚信息",
        "Administrative penalty decisions", "市场监管领域行政处罚决定书公示信息", "important", 3,
        "conditional", "conditional", "weekly", "市场监管综合执法系统", "林芳",
        [item("处罚决定书文号", "string", standard="DE-FZ-0101", source=True),
         item("统一社会信用代码", "string", standard="DE-FZ-0001"),
         item("违法行为类型", "string"),
         item("罚没款金额", "decimal", "单位：元"),
         item("处罚日期", "date")],
        sharing_basis=SAFETY,
        revision={"description": "市场监管领域行政处罚决定书公示信息（含信用修复标识）"},
    ),
    DemoResource(
        MARKET_FOOD_LICENCES, M, people.USER_MARKET_STAFF, "JC04", "食品经营许可证信息",
        "Food business licences", "食品经营许可证的核发、变更与注销信息", "general", 1,
        "unconditional", "open", "daily", "食品经营许可管理系统", "陈静",
        [item("许可证编号", "string", standard="DE-FZ-0102", source=True),
         item("经营者名称", "string", standard="DE-FZ-0002"),
         item("经营场所", "string"),
         item("有效期至", "date")],
    ),
    DemoResource(
        MARKET_EQUIPMENT, M, people.USER_MARKET, "BM01", "特种设备使用登记信息",
        "Special equipment registrations", "电梯、锅炉、压力容器等特种设备使用登记", "important", 3,
        "conditional", "not_open", "monthly", "特种设备安全监管平台", "林芳",
        [item("设备注册代码", "string", standard="DE-FZ-0103", source=True),
         item("使用单位", "string"),
         item("设备类别", "string"),
         item("下次检验日期", "date")],
        sharing_basis=SAFETY,
    ),
    DemoResource(
        LAND_REAL_ESTATE, L, people.USER_LAND, "JC03", "不动产登记信息",
        "Real estate registrations", "不动产权利及其变动登记信息", "core", 4,
        "not_shareable", "not_open", "realtime", "不动产登记信息管理平台", "黄海",
        [item("不动产单元号", "string", standard="DE-FZ-0201", source=True),
         item("权利人", "string", level=4, personal=True, rule="hash"),
         item("证件号码", "string", level=4, personal=True, rule="mask"),
         item("坐落", "string", level=3, rule="generalise"),
         item("面积", "decimal", "单位：平方米")],
        sharing_basis="依据《不动产登记暂行条例》及其实施细则，权利人信息仅限依法查询，不予共享",
    ),
    DemoResource(
        LAND_ZONING, L, people.USER_LAND, "ZT03", "国土空间规划用途分区",
        "Spatial planning zones", "国土空间总体规划的用途分区矢量数据", "general", 1,
        "unconditional", "open", "yearly", "国土空间基础信息平台", "黄海",
        [item("分区编号", "string", standard="DE-FZ-0202", source=True),
         item("用途分区", "string"), item("面积", "decimal"), item("几何", "geometry")],
        data_format="GeoJSON",
    ),
    DemoResource(
        LAND_HAZARDS, L, people.USER_LAND, "BM02", "地质灾害隐患点",
        "Geological hazard sites", "地质灾害隐患点位置、类型与威胁对象", "important", 3,
        "conditional", "conditional", "quarterly", "地质灾害防治信息系统", "黄海",
        [item("隐患点编号", "string", standard="DE-FZ-0203", source=True),
         item("灾害类型", "string"), item("经度", "decimal"), item("纬度", "decimal"),
         item("威胁人数", "integer")],
        sharing_basis=SAFETY,
    ),
    DemoResource(
        LAND_APPROVALS, L, people.USER_LAND, "BM02", "建设用地审批信息",
        "Construction land approvals", "建设用地预审与审批结果（编目中）", "general", 2,
        "unconditional", "open", "monthly", "用地审批系统", "黄海",
        [item("批复文号", "string"), item("用地单位", "string"), item("批准面积", "decimal")],
        state=ResourceStatus.DRAFT,
    ),
    DemoResource(
        TRANSPORT_BUS, T, people.USER_TRANSPORT, "ZT0201", "公交线路及站点",
        "Bus routes and stops", "全市公交线路、站点位置与首末班时间", "general", 1,
        "unconditional", "open", "weekly", "智慧公交调度系统", "郑伟",
        [item("线路编号", "string", standard="DE-FZ-0301", source=True),
         item("线路名称", "string"), item("站点名称", "string"),
         item("经度", "decimal"), item("纬度", "decimal"), item("首末班时间", "string")],
        data_format="JSON",
        rules=[("站点名称", "not_null", {}, 100),
               ("经度", "range", {"min": 118.0, "max": 120.5}, 100),
               ("纬度", "range", {"min": 25.0, "max": 27.0}, 100)],
    ),
    DemoResource(
        TRANSPORT_LICENCES, T, people.USER_TRANSPORT, "BM03", "道路运输经营许可信息",
        "Road transport business licences", "道路客货运输经营许可证信息", "general", 2,
        "unconditional", "conditional", "daily", "道路运政管理系统", "郑伟",
        [item("许可证号", "string", standard="DE-FZ-0302", source=True),
         item("统一社会信用代码", "string", standard="DE-FZ-0001"),
         item("经营范围", "string"), item("有效期至", "date")],
    ),
    DemoResource(
        TRANSPORT_TAXI, T, people.USER_TRANSPORT, "ZT02", "出租汽车运营订单",
        "Taxi trip records", "巡游出租汽车运营订单（上下车时间与位置）", "important", 3,
        "conditional", "conditional", "daily", "出租汽车监管平台", "郑伟",
        [item("车牌号", "string", level=3, personal=True, rule="mask"),
         item("上车时间", "datetime"), item("上车位置", "string", rule="generalise"),
         item("下车时间", "datetime"), item("下车位置", "string", rule="generalise"),
         item("里程", "decimal", "单位：公里")],
        sharing_basis=PERSONAL,
    ),
    DemoResource(
        TRANSPORT_PARKING, T, people.USER_TRANSPORT, "ZT0201", "公共停车场实时泊位",
        "Public car park occupancy", "公共停车场剩余泊位实时数据", "general", 1,
        "unconditional", "open", "realtime", "城市停车诱导平台", "郑伟",
        [item("停车场编号", "string", standard="DE-FZ-0303", source=True),
         item("停车场名称", "string"), item("剩余泊位", "integer"),
         item("更新时间", "datetime")],
        data_format="JSON",
    ),
    DemoResource(
        TRANSPORT_VEHICLES, T, people.USER_TRANSPORT, "BM03", "重点营运车辆动态监控",
        "Key commercial vehicle tracking", "两客一危车辆卫星定位动态监控数据", "core", 4,
        "conditional", "not_open", "realtime", "重点营运车辆联网联控系统", "郑伟",
        [item("车牌号", "string", level=3, personal=True, rule="mask"),
         item("定位时间", "datetime"), item("经度", "decimal"), item("纬度", "decimal"),
         item("速度", "decimal")],
        sharing_basis=SAFETY,
    ),
    DemoResource(
        TRANSPORT_SPRING_2025, T, people.USER_TRANSPORT, "ZT02", "2025年春运客流统计",
        "2025 Spring Festival passenger flows", "2025年春运期间各站场日客流量", "general", 1,
        "unconditional", "open", "irregular", "综合交通运行监测平台", "郑伟",
        [item("日期", "date"), item("站场", "string"), item("客流量", "integer")],
        state=ResourceStatus.WITHDRAWN,
    ),
]

WITHDRAW_REASON = "统计口径调整，数据已并入综合交通运行月报"


def _person(username: str) -> Person:
    return get_user_model().objects.get(username=username)


def _categories() -> int:
    made = 0
    for code, name, name_en, branch, parent in CATEGORIES:
        _, created = Category.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "branch": branch,
                                 "parent": Category.objects.get(code=parent) if parent else None})
        made += created
    return made


def _resource(spec: DemoResource) -> tuple[DataResource, bool]:
    found = DataResource.objects.filter(code=spec.code).first()
    if found is not None:
        return found, False
    by = _person(spec.by)
    fields = {name: getattr(spec, name) for name in (
        "name", "name_en", "description", "grade", "sensitivity", "sharing", "sharing_basis",
        "opening", "update_frequency", "source_system", "data_format", "responsible_person")}
    with transaction.atomic():
        made = services.create_resource(by=by, code=spec.code,
                                        category=Category.objects.get(code=spec.category),
                                        items=spec.items, **fields)
        for item_name, check, parameters, threshold in spec.rules:
            quality.add_rule(by=by, resource=made, item_name=item_name, check=check,
                             parameters=parameters, threshold=threshold)
        if spec.state != ResourceStatus.DRAFT:
            made = services.publish_resource(by=by, resource=made)
        if spec.revision:
            made = services.revise_resource(by=by, resource=made, **spec.revision)
        if spec.state == ResourceStatus.WITHDRAWN:
            made = services.withdraw_resource(by=by, resource=made, reason=WITHDRAW_REASON)
    return made, True


def _entities_sample() -> tuple[str, bytes]:
    today = datetime.now(UTC).date().isoformat()
    rows = [
        (uscc.make("91", "350102", "MA31A0F1"), "福州榕树咖啡有限公司", "黄**", "存续"),
        (uscc.make("91", "350103", "MA31A0F2"), "福州闽江船务有限公司", "陈**", "在业"),
        (uscc.make("92", "350104", "MA31A0F3"), "台江区阿明小吃店", "林**", "存续"),
        (uscc.make("91", "350111", "MA31A0F4"), "福州晋安建材有限公司", "王**", "注销"),
        (uscc.make("91", "350121", "MA31A0F5"), "闽侯县青口汽配有限公司", "郑**", "吊销"),
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["统一社会信用代码", "企业名称", "法定代表人", "登记状态", "更新日期"])
    writer.writerows(row + (today,) for row in rows)
    return "scjg-001-sample.csv", out.getvalue().encode("utf-8")


def _bus_sample() -> tuple[str, bytes]:
    stops = [
        {"线路编号": "1", "线路名称": "1路", "站点名称": "火车站", "经度": 119.3158,
         "纬度": 26.1162, "首末班时间": "06:00-22:30"},
        {"线路编号": "1", "线路名称": "1路", "站点名称": "五一广场", "经度": 119.3046,
         "纬度": 26.0784, "首末班时间": "06:00-22:30"},
        {"线路编号": "20", "线路名称": "20路", "站点名称": "", "经度": 119.2912,
         "纬度": 26.0711, "首末班时间": "06:30-21:00"},
        {"线路编号": "20", "线路名称": "20路", "站点名称": "西湖", "经度": 0,
         "纬度": 0, "首末班时间": "06:30-21:00"},
    ]
    return "jtys-001-stops.json", json.dumps(stops, ensure_ascii=False).encode("utf-8")


QUALITY_SAMPLES = [(MARKET_ENTITIES, people.USER_MARKET, _entities_sample),
                   (TRANSPORT_BUS, people.USER_TRANSPORT, _bus_sample)]


def _quality_checks() -> Iterator[str]:
    for code, username, sample in QUALITY_SAMPLES:
        resource = DataResource.objects.get(code=code)
        if resource.quality_checks.exists():
            continue
        name, data = sample()
        check = quality.run_quality_check(by=_person(username), resource=resource,
                                          sample_name=name, sample=data)
        verdict = "passed" if check.passed else "FAILED (flagged in the catalogue)"
        yield f"  quality    {code} over {name}: {check.rows} rows, {verdict}"


def load() -> Iterator[str]:
    """Categories, resources (with versions, a revision and a withdrawal) and quality."""
    made = _categories()
    yield f"  categories {Category.objects.count()} in the tree ({made} new)"
    for spec in RESOURCES:
        resource, created = _resource(spec)
        what = resource.status if created else "exists"
        yield (f"  {what:10} {resource.code} v{resource.version} {resource.name} "
               f"[{resource.grade}, {resource.sharing}, {resource.opening}]")
    yield from _quality_checks()


@dataclass(frozen=True)
class DemoProduct:
    code: str
    owner: str  # participant code
    by: str  # username
    name: str
    description: str
    resources: Sequence[str]
    price: str
    state: str
    certificate: tuple[str, str, str] | None = None  # (username, kind, document name)


PRODUCTS = [
    DemoProduct(PRODUCT_CREDIT, people.OPERATOR_CITY, people.USER_OPERATOR, "企业信用画像",
                "融合登记与行政处罚信息的企业信用评价，按季度更新（数据经脱敏处理）",
                [MARKET_ENTITIES, MARKET_PENALTIES], "30000.00", ProductStatus.SUBMITTED,
                (people.USER_CERTIFIER, "certification", "企业信用画像合规认证报告.pdf")),
    DemoProduct(PRODUCT_TRANSIT, people.OPERATOR_TRANSPORT, people.USER_OPERATOR_TRANSPORT,
                "公交出行热度指数", "基于公交线路与出租汽车订单的片区出行热度指数（按小时聚合）",
                [TRANSPORT_BUS, TRANSPORT_TAXI], "12000.00", ProductStatus.DRAFT),
]


def _missing_grants(spec: DemoProduct) -> list[str]:
    owner = Participant.objects.get(code=spec.owner)
    return [code for code in spec.resources
            if not contracts.holds_grant(owner, DataResource.objects.get(code=code))]


def _product(spec: DemoProduct) -> DataProduct:
    by = _person(spec.by)
    with transaction.atomic():
        product = products.create_product(
            by=by, code=spec.code, name=spec.name, description=spec.description,
            resources=list(DataResource.objects.filter(code__in=spec.resources)),
            price=spec.price,
        )
        if spec.state == ProductStatus.SUBMITTED:
            product = products.submit_product(by=by, product=product)
        if spec.certificate is not None:
            username, kind, document = spec.certificate
            report = f"{document}\n{spec.code} {spec.name}\n{datetime.now(UTC):%Y-%m-%d}"
            products.attach_certificate(by=_person(username), product=product, kind=kind,
                                        document_name=document, document=report.encode(),
                                        summary="数据来源合法、处理过程合规，准予申请挂牌")
    return product


def load_products() -> Iterator[str]:
    """The demo products, for owners that hold the grants they need (idempotent)."""
    for spec in PRODUCTS:
        found = DataProduct.objects.filter(code=spec.code).first()
        if found is not None:
            yield f"  exists     {found.code} {found.name} [{found.status}]"
            continue
        missing = _missing_grants(spec)
        if missing:
            yield (f"  skipped    {spec.code} {spec.name}: {spec.owner} holds no grant on "
                   f"{', '.join(missing)} yet")
            continue
        product = _product(spec)
        yield f"  created    {product.code} {product.name} [{product.status}]"
