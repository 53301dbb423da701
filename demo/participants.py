"""Demo participants and the people who act for them (``manage.py load_demo``).

The constants below are the demo's fixed names: other demo modules (contracts) and browser
tests import them. Every code is a valid unified social credit code built with
``operators.uscc.make`` in 福州市 (division 350100); government bodies use prefix 11 (机关),
the notary office 12 (事业单位), companies 91 (企业).

Passwords are ``demo-<username>``: for the demo only, printed on the console on purpose.
Loading is idempotent: what exists is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User as Person
from django.db import transaction

from operators import services, uscc
from operators.models import Kind, Membership, Participant, Role, Status

DIVISION = "350100"  # 福州市

# --- participant codes ---------------------------------------------------------------------
AUTHORITY = uscc.make("11", DIVISION, "00350001")  # 市数据局 (data authority)
MARKET = uscc.make("11", DIVISION, "00350002")  # 市场监督管理局 (provider)
NATURAL_RESOURCES = uscc.make("11", DIVISION, "00350003")  # 自然资源和规划局 (provider)
TRANSPORT = uscc.make("11", DIVISION, "00350004")  # 交通运输局 (provider)
AUDITOR = uscc.make("11", DIVISION, "00350005")  # 市审计局 (auditor)
REGULATOR = uscc.make("11", DIVISION, "00350006")  # 市委网信办 (regulator)
OPERATOR_CITY = uscc.make("91", DIVISION, "MA2Y0001")  # 数字榕城 (authorised operator)
OPERATOR_TRANSPORT = uscc.make("91", DIVISION, "MA2Y0002")  # 交通大数据 (authorised operator)
MERCHANT_TECHNICAL = uscc.make("91", DIVISION, "MA2Y0003")  # 技术型数商
MERCHANT_SERVICE = uscc.make("91", DIVISION, "MA2Y0004")  # 服务型数商
MERCHANT_APPLICATION = uscc.make("91", DIVISION, "MA2Y0005")  # 应用型数商
MERCHANT_APPLICANT = uscc.make("91", DIVISION, "MA2Y0006")  # 应用型数商, still under review
CERTIFIER = uscc.make("91", DIVISION, "MA2Y0007")  # 合规认证
NOTARY = uscc.make("12", DIVISION, "00350008")  # 数据公证 (公证处)
VALUER = uscc.make("91", DIVISION, "MA2Y0009")  # 资产评估

# --- usernames (password: demo-<username>) ---------------------------------------------------
USER_AUTHORITY = "authority"  # 市数据局, administrator (reviews registrations and listings)
USER_REVIEWER = "reviewer"  # 市数据局, reviewer
USER_MARKET = "market"  # 市场监督管理局, administrator
USER_MARKET_STAFF = "market-staff"  # 市场监督管理局, staff
USER_LAND = "land"  # 自然资源和规划局, administrator
USER_TRANSPORT = "transport"  # 交通运输局, administrator
USER_AUDITOR = "auditor"
USER_REGULATOR = "regulator"
USER_OPERATOR = "operator"  # 数字榕城
USER_OPERATOR_TRANSPORT = "operator2"  # 交通大数据
USER_TECH = "tech"
USER_SERVICE = "service"
USER_APP = "app"
USER_APPLICANT = "applicant"
USER_CERTIFIER = "certifier"
USER_NOTARY = "notary"
USER_VALUER = "valuer"


def password(username: str) -> str:
    """The demo password of a demo user (never use demo data in production)."""
    return f"demo-{username}"


def demo_user(username: str) -> Person:
    """A new demo account with its published password ``demo-<username>``.

    DEMO ONLY: these passwords are printed for anyone to use and most are shorter than the
    12 characters ``AUTH_PASSWORD_VALIDATORS`` require, so the hash is written directly
    instead of through ``set_password`` (which ``accounts.passwords.guard`` validates on
    every other path). ``load_demo`` refuses to run in production mode (SHULIAN_HTTPS).
    """
    user = get_user_model().objects.create_user(username=username, password=None)
    user.password = make_password(password(username))
    user.save(update_fields=["password"])
    return user


@dataclass(frozen=True)
class DemoParticipant:
    code: str
    name_zh: str
    name_en: str
    kind: str
    status: str = Status.ADMITTED
    merchant_type: str = ""
    service_type: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    address: str = ""
    people: tuple[tuple[str, str], ...] = field(default=())  # (username, role)


def _body(code: str, zh: str, en: str, kind: str, contact: str, phone: str, mail: str,
          address: str, *people: tuple[str, str]) -> DemoParticipant:
    return DemoParticipant(code, zh, en, kind, contact_name=contact, contact_phone=phone,
                           contact_email=f"{mail}@example.com", address=address,
                           people=tuple(people))


DEPARTMENTS = [
    _body(AUTHORITY, "福州市数据管理局", "Fuzhou Municipal Data Administration", Kind.AUTHORITY,
          "陈立", "0591-87000001", "data-admin", "福州市鼓楼区乌山路96号",
          (USER_AUTHORITY, Role.ADMIN), (USER_REVIEWER, Role.REVIEWER)),
    _body(MARKET, "福州市市场监督管理局", "Fuzhou Administration for Market Regulation",
          Kind.PROVIDER, "林芳", "0591-87000002", "market", "福州市鼓楼区东大路",
          (USER_MARKET, Role.ADMIN), (USER_MARKET_STAFF, Role.STAFF)),
    _body(NATURAL_RESOURCES, "福州市自然资源和规划局",
          "Fuzhou Bureau of Natural Resources and Planning", Kind.PROVIDER, "黄海",
          "0591-87000003", "land", "福州市台江区江滨中大道", (USER_LAND, Role.ADMIN)),
    _body(TRANSPORT, "福州市交通运输局", "Fuzhou Transport Bureau", Kind.PROVIDER, "郑伟",
          "0591-87000004", "transport", "福州市晋安区福新中路", (USER_TRANSPORT, Role.ADMIN)),
    _body(AUDITOR, "福州市审计局", "Fuzhou Audit Bureau", Kind.AUDITOR, "吴静",
          "0591-87000005", "audit", "福州市鼓楼区华林路", (USER_AUDITOR, Role.ADMIN)),
    _body(REGULATOR, "中共福州市委网络安全和信息化委员会办公室",
          "Fuzhou Cyberspace Affairs Office", Kind.REGULATOR, "刘洋", "0591-87000006",
          "cac", "福州市鼓楼区湖东路", (USER_REGULATOR, Role.ADMIN)),
]


def _applicant(code: str, zh: str, en: str, kind: str, username: str, contact: str,
               status: str = Status.ADMITTED, **types: str) -> DemoParticipant:
    return DemoParticipant(code, zh, en, kind, status=status, contact_name=contact,
                           contact_phone="0591-86" + "".join(filter(str.isdigit, code))[-6:],
                           address="福州市",
                           contact_email=f"{username}@example.com",
                           people=((username, Role.ADMIN),), **types)


COMPANIES = [
    _applicant(OPERATOR_CITY, "数字榕城运营有限公司", "Digital Rongcheng Operations Co., Ltd.",
             Kind.OPERATOR, USER_OPERATOR, "张敏"),
    _applicant(OPERATOR_TRANSPORT, "福州交通大数据运营有限公司",
             "Fuzhou Transport Big Data Operations Co., Ltd.", Kind.OPERATOR,
             USER_OPERATOR_TRANSPORT, "王磊"),
    _applicant(MERCHANT_TECHNICAL, "闽江数据技术有限公司", "Minjiang Data Technology Co., Ltd.",
             Kind.MERCHANT, USER_TECH, "李娜", merchant_type="technical"),
    _applicant(MERCHANT_SERVICE, "榕信数据服务有限公司", "Rongxin Data Services Co., Ltd.",
             Kind.MERCHANT, USER_SERVICE, "赵强", merchant_type="service"),
    _applicant(MERCHANT_APPLICATION, "福码出行科技有限公司", "Fuma Mobility Technology Co., Ltd.",
             Kind.MERCHANT, USER_APP, "孙丽", merchant_type="application"),
    _applicant(MERCHANT_APPLICANT, "海西智慧物流有限公司", "Haixi Smart Logistics Co., Ltd.",
             Kind.MERCHANT, USER_APPLICANT, "周杰", status=Status.UNDER_REVIEW,
             merchant_type="application"),
    _applicant(CERTIFIER, "福建数据合规认证中心有限公司",
             "Fujian Data Compliance Certification Centre Co., Ltd.", Kind.THIRD_PARTY,
             USER_CERTIFIER, "何平", service_type="certification"),
    _applicant(NOTARY, "福建省福州市闽都公证处", "Mindu Notary Office, Fuzhou", Kind.THIRD_PARTY,
             USER_NOTARY, "郭琳", service_type="notarisation"),
    _applicant(VALUER, "榕城资产评估有限公司", "Rongcheng Asset Appraisal Co., Ltd.",
             Kind.THIRD_PARTY, USER_VALUER, "马超", service_type="valuation"),
]
EVERYONE = DEPARTMENTS + COMPANIES

# The actions that take an applicant to each status (from applied).
_PATH = {
    Status.APPLIED: [],
    Status.UNDER_REVIEW: ["start_review"],
    Status.ADMITTED: ["start_review", "admit"],
}
_REVIEW_NOTE = {"start_review": "材料齐全，进入审核",
                "admit": "符合《数据商入场登记规则》，准予登记"}


def _contacts(spec: DemoParticipant) -> dict[str, str]:
    return {"contact_name": spec.contact_name, "contact_phone": spec.contact_phone,
            "contact_email": spec.contact_email, "address": spec.address}


def _user(username: str) -> tuple[Person, bool]:
    users = get_user_model()
    found = users.objects.filter(username=username).first()
    if found is not None:
        return found, False
    return demo_user(username), True


def _department(spec: DemoParticipant, by: Participant | None) -> tuple[Participant, bool]:
    found = Participant.objects.filter(code=spec.code).first()
    if found is not None:
        return found, False
    made = services.register_department(code=spec.code, name_zh=spec.name_zh,
                                        name_en=spec.name_en, kind=spec.kind, by=by,
                                        **_contacts(spec))
    return made, True


def _company(spec: DemoParticipant, reviewer: Person) -> tuple[Participant, int]:
    """The company applies (its first person is the applicant) and the authority takes it
    to its demo status, all in one transaction; (company, review steps), or (it, -1) if it
    already exists."""
    found = Participant.objects.filter(code=spec.code).first()
    if found is not None:
        return found, -1
    path = _PATH[Status(spec.status)]
    with transaction.atomic():
        applicant, _ = _user(spec.people[0][0])
        made = services.apply_for_admission(
            code=spec.code, name_zh=spec.name_zh, name_en=spec.name_en, kind=spec.kind,
            merchant_type=spec.merchant_type, service_type=spec.service_type,
            applicant=applicant, **_contacts(spec),
        )
        for action in path:
            made = services.review_registration(participant=made, action=action, by=reviewer,
                                                reason=_REVIEW_NOTE[action])
    return made, len(path)


def _members(participant: Participant, spec: DemoParticipant) -> int:
    added = 0
    for username, role in spec.people:
        person, _ = _user(username)
        if Membership.objects.filter(user=person, participant=participant).exists():
            continue
        services.add_member(participant=participant, user=person, role=role, by=None)
        added += 1
    return added


def load() -> Iterator[str]:
    """Register the demo participants and their people; yields one line per participant."""
    authority_spec = DEPARTMENTS[0]
    authority, created = _department(authority_spec, by=None)
    added = _members(authority, authority_spec)
    yield _line(authority, created, added)
    for spec in DEPARTMENTS[1:]:
        body, created = _department(spec, by=authority)
        yield _line(body, created, _members(body, spec))
    reviewer = get_user_model().objects.get(username=USER_REVIEWER)
    for spec in COMPANIES:
        company, steps = _company(spec, reviewer)
        yield _line(company, steps >= 0, _members(company, spec), max(steps, 0))


def _line(participant: Participant, created: bool, members: int, steps: int = 0) -> str:
    what = "registered" if created else "exists"
    extra = f", {members} member(s) added" if members else ""
    extra += f", {steps} review step(s)" if steps else ""
    return (f"  {what:10} {participant.code} {participant.name_zh} "
            f"[{participant.kind}, {participant.status}]{extra}")


def credentials() -> list[tuple[str, str, str, str]]:
    """(username, password, participant, role) of every demo user, in table order."""
    rows = []
    names = {spec.code: spec.name_zh for spec in EVERYONE}
    for spec in EVERYONE:
        for username, role in spec.people:
            rows.append((username, password(username), names[spec.code], str(role)))
    return rows


def credentials_table() -> Iterator[str]:
    rows = credentials()
    width = max(len(r[0]) for r in rows)
    pwidth = max(len(r[1]) for r in rows)
    yield "Demo users (DEMO-ONLY passwords: never reuse them, never deploy demo data):"
    yield f"  {'username':<{width}}  {'password':<{pwidth}}  role      participant"
    for username, secret, participant, role in rows:
        yield f"  {username:<{width}}  {secret:<{pwidth}}  {role:<8}  {participant}"
