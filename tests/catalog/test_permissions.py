"""The permission matrix: role x object state x action.

Every allowed cell works and writes exactly its documented ledger entry (signed with the
acting participant's key, payload hash matching); every denied cell is refused with the
right error and writes nothing at all. Objects a role may not see raise NotFound worded
exactly like a code that does not exist.

The world (participants, people, resources in every state and opening, products in every
state) is built once for the module inside a transaction that is rolled back at the end;
each cell runs in its own savepoint, rolled back after it (pytest-django), so cells cannot
affect one another. It runs on SQLite and on PostgreSQL (scripts/test).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from guardian.models import GroupObjectPermission, UserObjectPermission

from catalog import access, quality, selectors, services, versions
from catalog.models import (
    Certificate,
    DataItem,
    DataProduct,
    DataResource,
    ProductStatus,
    QualityCheck,
    QualityRule,
    ResourceStatus,
    ResourceVersion,
)
from contracts import products
from contracts.models import Grant
from crypto.sm3 import sm3_hex
from kernel.errors import DomainError, IllegalTransition, InvalidInput, NotFound, NotPermitted
from ledger import services as ledger
from ledger.models import Entry, Payload
from operators import services as operators
from operators.models import Kind, Membership, Participant, Role, Status
from tests.catalog import category_tree, grant, resource, rolled_back
from tests.operators import authority, company, department, entries_since, member, one_entry
from tests.operators import user as new_user

pytestmark = pytest.mark.django_db

OK = "ok"
STATES = [ResourceStatus.DRAFT, ResourceStatus.PUBLISHED, ResourceStatus.WITHDRAWN]
OPENINGS = ["open", "conditional", "not_open"]
RESOURCE_CELLS = [(s, o) for s in STATES for o in OPENINGS]
PRODUCT_STATES = list(ProductStatus.values)
REGISTRATION_STATES = list(Status.values)

# role -> (participant key in the world, role inside it); None: acts for nobody.
ROLES: dict[str, tuple[str, str] | None] = {
    "provider_admin": ("provider", Role.ADMIN),
    "provider_staff": ("provider", Role.STAFF),
    "other_provider": ("other_provider", Role.ADMIN),
    "authority_reviewer": ("authority", Role.REVIEWER),
    "authority_staff": ("authority", Role.STAFF),
    "operator": ("operator", Role.ADMIN),
    "merchant_admitted": ("merchant_admitted", Role.ADMIN),
    "merchant_applied": ("merchant_applied", Role.ADMIN),
    "merchant_suspended": ("merchant_suspended", Role.ADMIN),
    "third_party": ("certifier", Role.ADMIN),
    "auditor": ("auditor", Role.ADMIN),
    "regulator": ("regulator", Role.ADMIN),
    "outsider": None,  # signed in, acts for no participant
    "anonymous": None,
}
ROLE_NAMES = list(ROLES)

# --- the oracle: who may do what, written from the issue, not from the code -------------

MANAGERS = {"provider_admin", "provider_staff"}
READ_ALL = {"authority_reviewer", "authority_staff", "auditor", "regulator"}
ADMITTED = {"provider_admin", "provider_staff", "other_provider", "authority_reviewer",
            "authority_staff", "operator", "merchant_admitted", "third_party", "auditor",
            "regulator"}
GRANTED = {"operator"}  # holds a grant on every published or withdrawn resource


def sees_resource(role: str, state: str, opening: str) -> bool:
    if role in MANAGERS or role in READ_ALL:
        return True
    if state == ResourceStatus.DRAFT:
        return False
    if opening == "open" or role in GRANTED:
        return True
    # A data subject (signed in, acting for no participant) sees conditionally open
    # metadata too, so that they can object to what it holds about them.
    return opening == "conditional" and (role in ADMITTED or role == "outsider")



def sees_restricted(role: str, state: str) -> bool:
    return role in MANAGERS or role in READ_ALL or (
        role in GRANTED and state != ResourceStatus.DRAFT
    )


def resource_outcome(role: str, state: str, opening: str, action: str) -> Any:
    if not sees_resource(role, state, opening):
        return NotFound
    if role not in MANAGERS:
        return NotPermitted
    illegal = {
        "publish": state == ResourceStatus.PUBLISHED,
        "revise": state == ResourceStatus.WITHDRAWN,
        "withdraw": state != ResourceStatus.PUBLISHED,
        "quality": False,
    }
    return IllegalTransition if illegal[action] else OK


def sees_product(role: str, state: str) -> bool:
    return (state == ProductStatus.LISTED or role == "operator" or role in READ_ALL
            or (role == "third_party" and state == ProductStatus.SUBMITTED))


PRODUCT_MOVES = {
    "submit": {ProductStatus.DRAFT, ProductStatus.REJECTED},
    "list": {ProductStatus.SUBMITTED},
    "reject": {ProductStatus.SUBMITTED},
    "delist": {ProductStatus.LISTED},
    "certify": set(ProductStatus.values),
}
PRODUCT_ACTOR = {"submit": "operator", "list": "authority_reviewer",
                 "reject": "authority_reviewer", "delist": "authority_reviewer",
                 "certify": "third_party"}


def product_outcome(role: str, state: str, action: str) -> Any:
    if not sees_product(role, state):
        return NotFound
    if role != PRODUCT_ACTOR[action]:
        return NotPermitted
    return OK if state in PRODUCT_MOVES[action] else IllegalTransition


# --- the world ---------------------------------------------------------------------------


def rcode(state: str, opening: str) -> str:
    return f"R-{state}-{opening}"


def pcode(state: str) -> str:
    return f"P-{state}"


PRODUCT_PATH = {
    ProductStatus.DRAFT: [],
    ProductStatus.SUBMITTED: ["submit"],
    ProductStatus.LISTED: ["submit", "list"],
    ProductStatus.REJECTED: ["submit", "reject"],
    ProductStatus.DELISTED: ["submit", "list", "delist"],
}
TARGET_OF = {  # a company in each registration state
    Status.APPLIED: "merchant_applied", Status.ADMITTED: "merchant_admitted",
    Status.SUSPENDED: "merchant_suspended", Status.UNDER_REVIEW: "merchant_under_review",
    Status.REJECTED: "merchant_rejected", Status.REVOKED: "merchant_revoked",
}


def build() -> dict[str, Any]:
    ledger.ensure_ledger_key()
    body, reviewer = authority()
    parties: dict[str, Participant] = {"authority": body}
    people: dict[str, Any] = {"authority_reviewer": reviewer}
    parties["provider"] = department(Kind.PROVIDER, "市场监督管理局", by=body)
    parties["other_provider"] = department(Kind.PROVIDER, "交通运输局", by=body)
    parties["auditor"] = department(Kind.AUDITOR, "审计局", by=body)
    parties["regulator"] = department(Kind.REGULATOR, "数据监管处", by=body)
    parties["operator"] = company(Kind.OPERATOR, reviewer=reviewer, name="数字福州运营公司")
    parties["certifier"] = company(Kind.THIRD_PARTY, reviewer=reviewer, name="合规认证中心")
    for status in REGISTRATION_STATES:
        parties[TARGET_OF[status]] = company(status=status, reviewer=reviewer)
    for role, place in ROLES.items():
        if place is not None and role not in people:
            people[role] = member(parties[place[0]], role, place[1])
    people["outsider"] = new_user("outsider")

    admin = people["provider_admin"]
    categories = category_tree()
    for state, opening in RESOURCE_CELLS:
        made = resource(admin, rcode(state, opening), categories["B0101"], state=state,
                        opening=opening)
        quality.add_rule(by=admin, resource=made, item_name="统一社会信用代码",
                         check="not_null")
        if state != ResourceStatus.DRAFT:
            grant(parties["operator"], made)

    operator, authority_user = people["operator"], people["authority_reviewer"]
    base = DataResource.objects.get(code=rcode(ResourceStatus.PUBLISHED, "conditional"))
    for state in PRODUCT_STATES:
        product = products.create_product(by=operator, code=pcode(state), name=f"企业画像-{state}",
                                          resources=[base], price="1200.00")
        for step in PRODUCT_PATH[state]:
            if step == "submit":
                product = products.submit_product(by=operator, product=product)
            else:
                product = products.review_product(by=authority_user, product=product,
                                                  action=step, reason="测试")
    return {"codes": {key: p.code for key, p in parties.items()},
            "users": {role: person.pk for role, person in people.items()}}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    yield from rolled_back(django_db_blocker, build)


def person(world: dict[str, Any], role: str) -> Any:
    if role == "anonymous":
        return AnonymousUser()
    return get_user_model().objects.get(pk=world["users"][role])


def party(world: dict[str, Any], key: str) -> Participant:
    return Participant.objects.get(code=world["codes"][key])


# --- nothing written -------------------------------------------------------------------

WATCHED = [Participant, Membership, DataResource, DataItem, ResourceVersion, QualityRule,
           QualityCheck, DataProduct, DataProduct.resources.through, Certificate, Grant,
           GroupObjectPermission, UserObjectPermission]


def snapshot() -> dict[str, Any]:
    """Every row of the watched tables (raw SQL: this runs twice per refused cell); for the
    ledger (append-only: triggers refuse any change to its rows) the numbers of entries and
    payloads say whether one was added."""
    rows: dict[str, Any] = {}
    with connection.cursor() as cursor:
        for model in WATCHED:
            table = model._meta.db_table
            cursor.execute(f"SELECT * FROM {table} ORDER BY 1")
            rows[table] = cursor.fetchall()
        cursor.execute("SELECT (SELECT COUNT(*) FROM ledger_entry), "
                       "(SELECT COUNT(*) FROM ledger_payload)")
        rows["ledger"] = cursor.fetchone()
    return rows


def refused(expected: type[DomainError], call: Callable[[], Any]) -> DomainError:
    """``call`` raises exactly ``expected`` and changes no row of any watched table."""
    before = snapshot()
    with pytest.raises(DomainError) as info:
        call()
    assert type(info.value) is expected, f"{type(info.value).__name__}: {info.value}"
    assert snapshot() == before
    return info.value


def assert_looks_missing(error: DomainError, code: str, noun: str) -> None:
    """Same class and same words as for a code that does not exist."""
    assert isinstance(error, NotFound)
    assert str(error) == f"no {noun} {code}"


def test_missing_objects_raise_not_found(world):
    for role in ROLE_NAMES:
        who = person(world, role)
        with pytest.raises(NotFound) as info:
            selectors.resource(who, "R-NO-SUCH")
        assert_looks_missing(info.value, "R-NO-SUCH", "resource")
        with pytest.raises(NotFound) as info:
            selectors.product(who, "P-NO-SUCH")
        assert_looks_missing(info.value, "P-NO-SUCH", "product")


# --- resources: reading ------------------------------------------------------------------


@pytest.mark.parametrize(("state", "opening"), RESOURCE_CELLS)
@pytest.mark.parametrize("role", ROLE_NAMES)
def test_view_resource(world, role, state, opening):
    who, code = person(world, role), rcode(state, opening)
    found = selectors.search(who).filter(code=code).exists()
    if sees_resource(role, state, opening):
        assert selectors.resource(who, code).code == code
        assert found
        return
    error = refused(NotFound, lambda: selectors.resource(who, code))
    assert_looks_missing(error, code, "resource")
    assert not found


@pytest.mark.parametrize(("state", "opening"), RESOURCE_CELLS)
@pytest.mark.parametrize("role", ROLE_NAMES)
def test_see_restricted_fields(world, role, state, opening):
    target = DataResource.objects.get(code=rcode(state, opening))
    assert access.sees_restricted(person(world, role), target) == sees_restricted(role, state)


# --- resources: changing -------------------------------------------------------------------

SAMPLE = "统一社会信用代码,法定代表人\n91350100M000100Y43,张三\n,李四\n".encode()


def run(action: str, who: Any, target: DataResource) -> Any:
    if action == "publish":
        return services.publish_resource(by=who, resource=target)
    if action == "revise":
        return services.revise_resource(by=who, resource=target, description="补充说明")
    if action == "withdraw":
        return services.withdraw_resource(by=who, resource=target, reason="源系统停用")
    return quality.run_quality_check(by=who, resource=target, sample_name="sample.csv",
                                     sample=SAMPLE)


def check_version_entry(size: int, target: DataResource, provider: str) -> None:
    latest = target.versions.order_by("-number").first()
    assert latest is not None and latest.number == target.version
    payload = one_entry(size, kind="catalog.resource.published", actor=provider,
                        subject=versions.subject(target))
    assert payload == json.loads(latest.content)
    assert payload["version"] == latest.number
    assert versions.matches_entry(latest)
    assert Payload.objects.get(entry_id=latest.entry_seq).restricted == (
        target.opening != "open")


def check_done(action: str, state: str, target: DataResource, size: int,
               provider: str) -> None:
    target.refresh_from_db()
    if action == "publish" or (action == "revise" and state == ResourceStatus.PUBLISHED):
        assert target.status == ResourceStatus.PUBLISHED
        check_version_entry(size, target, provider)
    elif action == "revise":  # a draft: the provider's private work, not on the ledger
        assert target.description == "补充说明" and entries_since(size) == []
    elif action == "withdraw":
        assert target.status == ResourceStatus.WITHDRAWN
        payload = one_entry(size, kind="catalog.resource.withdrawn", actor=provider,
                            subject=versions.subject(target))
        assert payload["reason"] == "源系统停用"
    else:
        payload = one_entry(size, kind="catalog.quality.checked", actor=provider,
                            subject=versions.subject(target))
        check = QualityCheck.objects.get(resource=target)
        assert check.entry_seq == size and payload["results"] == check.results
        assert payload["sample_sm3"] == sm3_hex(SAMPLE) and not payload["passed"]
        assert target.quality_failing


@pytest.mark.parametrize("action", ["publish", "revise", "withdraw", "quality"])
@pytest.mark.parametrize(("state", "opening"), RESOURCE_CELLS)
@pytest.mark.parametrize("role", ROLE_NAMES)
def test_change_resource(world, role, state, opening, action):
    who, code = person(world, role), rcode(state, opening)
    target = DataResource.objects.get(code=code)
    expected = resource_outcome(role, state, opening, action)
    if expected is not OK:
        error = refused(expected, lambda: run(action, who, target))
        if expected is NotFound:
            assert_looks_missing(error, code, "resource")
        return
    size = Entry.objects.count()
    run(action, who, target)
    check_done(action, state, target, size, world["codes"]["provider"])


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_create_resource(world, role):
    who, provider = person(world, role), party(world, "provider")
    category = DataResource.objects.get(code=rcode("published", "open")).category

    def create() -> DataResource:
        return services.create_resource(
            by=who, provider=provider, code="R-NEW", category=category, name="新目录",
            grade="general", sensitivity=1, sharing="unconditional", opening="open",
            update_frequency="monthly",
        )

    if role not in MANAGERS:
        refused(NotPermitted, create)
        return
    size = Entry.objects.count()
    made = create()
    assert made.status == ResourceStatus.DRAFT and made.provider == provider
    assert entries_since(size) == []  # drafts are not on the ledger
    assert access.can_manage(person(world, "provider_staff"), made)
    assert not access.can_manage(person(world, "other_provider"), made)
    assert not access.can_manage(person(world, "authority_reviewer"), made)


# --- products ------------------------------------------------------------------------------

DOCUMENT = "合规认证报告：数据来源合法，处理合规。".encode()


def run_product(action: str, who: Any, product: DataProduct) -> Any:
    if action == "submit":
        return products.submit_product(by=who, product=product)
    if action == "certify":
        return products.attach_certificate(by=who, product=product, kind="certification",
                                           document_name="合规认证报告.pdf",
                                           document=DOCUMENT, summary="通过")
    return products.review_product(by=who, product=product, action=action, reason="审核意见")


@pytest.mark.parametrize("state", PRODUCT_STATES)
@pytest.mark.parametrize("role", ROLE_NAMES)
def test_view_product(world, role, state):
    who, code = person(world, role), pcode(state)
    if sees_product(role, state):
        assert selectors.product(who, code).code == code
        assert selectors.products(who).filter(code=code).exists()
        return
    assert_looks_missing(refused(NotFound, lambda: selectors.product(who, code)), code,
                         "product")
    assert not selectors.products(who).filter(code=code).exists()


@pytest.mark.parametrize("action", ["submit", "list", "reject", "delist", "certify"])
@pytest.mark.parametrize("state", PRODUCT_STATES)
@pytest.mark.parametrize("role", ROLE_NAMES)
def test_change_product(world, role, state, action):
    who, code = person(world, role), pcode(state)
    product = DataProduct.objects.get(code=code)
    expected = product_outcome(role, state, action)
    if expected is not OK:
        error = refused(expected, lambda: run_product(action, who, product))
        if expected is NotFound:
            assert_looks_missing(error, code, "product")
        return
    size = Entry.objects.count()
    run_product(action, who, product)
    product.refresh_from_db()
    subject = products.product_subject(product)
    if action == "certify":
        payload = one_entry(size, kind="catalog.certificate.issued",
                            actor=world["codes"]["certifier"], subject=subject)
        certificate = Certificate.objects.get(product=product)
        assert payload["document_sm3"] == certificate.digest == sm3_hex(DOCUMENT)
        assert certificate.entry_seq == size
        return
    past = {"submit": "submitted", "list": "listed", "reject": "rejected",
            "delist": "delisted"}[action]
    actor = world["codes"]["operator" if action == "submit" else "authority"]
    payload = one_entry(size, kind=f"catalog.product.{past}", actor=actor, subject=subject)
    assert product.status == past == payload["status"]
    assert payload["resources"] == [rcode("published", "conditional")]


def create_outcome(role: str, opening: str) -> Any:
    if role not in ("operator", "merchant_admitted"):
        return NotPermitted
    if not sees_resource(role, ResourceStatus.PUBLISHED, opening):
        return NotFound
    return OK if role in GRANTED else InvalidInput


@pytest.mark.parametrize("opening", ["open", "not_open"])
@pytest.mark.parametrize("role", ROLE_NAMES)
def test_create_product(world, role, opening):
    who, code = person(world, role), rcode("published", opening)
    base = DataResource.objects.get(code=code)

    def create() -> DataProduct:
        return products.create_product(by=who, code="P-NEW", name="新产品", resources=[base],
                                       price="88.00")

    expected = create_outcome(role, opening)
    if expected is not OK:
        error = refused(expected, create)
        if expected is NotFound:
            assert_looks_missing(error, code, "resource")
        if expected is InvalidInput:
            assert error.field == "resources" and "no valid grant" in error.reason
        return
    size = Entry.objects.count()
    made = create()
    assert made.status == ProductStatus.DRAFT and made.owner.code == world["codes"]["operator"]
    assert entries_since(size) == []  # drafts are not on the ledger


# --- registration ----------------------------------------------------------------------------

NEXT_ACTION = {  # the action tried on a company in each state (terminal states: illegal)
    Status.APPLIED: "start_review", Status.UNDER_REVIEW: "admit", Status.ADMITTED: "suspend",
    Status.SUSPENDED: "reinstate", Status.REJECTED: "admit", Status.REVOKED: "reinstate",
}


@pytest.mark.parametrize("state", REGISTRATION_STATES)
@pytest.mark.parametrize("role", ROLE_NAMES)
def test_review_registration(world, role, state):
    who, target = person(world, role), party(world, TARGET_OF[state])
    action = NEXT_ACTION[state]

    def review() -> Participant:
        return operators.review_registration(participant=target, action=action, by=who,
                                             reason="审核意见")

    if role != "authority_reviewer":
        refused(NotPermitted, review)
        return
    if state in (Status.REJECTED, Status.REVOKED):
        refused(IllegalTransition, review)
        return
    size = Entry.objects.count()
    done = review()
    payload = one_entry(size, kind=operators.ENTRY_KIND[action],
                        actor=world["codes"]["authority"], subject=operators.subject(target))
    assert payload["status"] == done.status != state
