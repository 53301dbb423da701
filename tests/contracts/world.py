"""A small world for the workflow tests, built through the real services: a data authority,
a provider department, an operator, a merchant, a notarisation service, a regulator, their
people, and three published resources (one per sharing attribute)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import User

from catalog import services as catalog
from catalog.models import Category, DataProduct, DataResource, Sharing
from contracts import common, products
from contracts.calendar import SHANGHAI
from ledger.models import Entry, LedgerKey
from operators import services as operators
from operators import uscc
from operators.models import Kind, Participant, Role

_serial = itertools.count(1)
ITEMS = [
    {"name": "name", "data_type": "string", "personal_information": True,
     "desensitisation": "mask", "sensitivity": 3},
    {"name": "licence_no", "data_type": "string"},
    {"name": "issued_on", "data_type": "date"},
]


def code(prefix: str = "11", division: str = "310000") -> str:
    return uscc.make(prefix, division, f"{next(_serial):08d}")


def person(username: str) -> User:
    return User.objects.create(username=f"{username}-{next(_serial)}")


def member(participant: Participant, role: str = Role.ADMIN, name: str = "") -> User:
    user = person(name or participant.kind)
    operators.add_member(participant=participant, user=user, role=role, by=None)
    return user


def today() -> date:
    return common.now().astimezone(SHANGHAI).date()


@dataclass
class World:
    authority: Participant
    authority_user: User
    authority_staff: User
    provider: Participant
    provider_user: User
    operator: Participant
    operator_user: User
    merchant: Participant
    merchant_user: User
    notary: Participant
    notary_user: User
    regulator: Participant
    regulator_user: User
    subject_user: User
    category: Category
    resources: dict[str, DataResource] = field(default_factory=dict)
    product: DataProduct | None = None

    @property
    def conditional(self) -> DataResource:
        return self.resources[Sharing.CONDITIONAL]

    @property
    def unconditional(self) -> DataResource:
        return self.resources[Sharing.UNCONDITIONAL]

    @property
    def not_shareable(self) -> DataResource:
        return self.resources[Sharing.NOT_SHAREABLE]


def company(kind: str, authority_user: User, **extra: str) -> tuple[Participant, User]:
    user = person(kind)
    participant = operators.apply_for_admission(
        code=code("91"), name_zh=f"{kind} 公司", kind=kind, applicant=user, **extra)
    for action in ("start_review", "admit"):
        operators.review_registration(participant=participant, action=action,
                                      by=authority_user)
    participant.refresh_from_db()
    return participant, user


def resource(world_provider_user: User, category: Category, sharing: str,
             provider: Participant) -> DataResource:
    basis = "" if sharing == Sharing.UNCONDITIONAL else "《某条例》第十条"
    made = catalog.create_resource(
        by=world_provider_user, code=f"R-{sharing}-{next(_serial)}", category=category,
        items=ITEMS, name=f"企业登记 {sharing}", grade="general", sensitivity=2,
        sharing=sharing, sharing_basis=basis,
        opening="open" if sharing == Sharing.UNCONDITIONAL else "conditional",
        update_frequency="daily", provider=provider,
    )
    return catalog.publish_resource(by=world_provider_user, resource=made)


def build() -> World:
    authority = operators.register_department(code=code(), name_zh="数据局",
                                              kind=Kind.AUTHORITY)
    authority_user = member(authority, Role.ADMIN, "authority")
    authority_staff = member(authority, Role.STAFF, "authority-staff")
    provider = operators.register_department(code=code(), name_zh="市场监管局",
                                             kind=Kind.PROVIDER, by=authority)
    provider_user = member(provider, Role.STAFF, "provider")
    regulator = operators.register_department(code=code(), name_zh="网信办",
                                              kind=Kind.REGULATOR, by=authority)
    regulator_user = member(regulator, Role.STAFF, "regulator")
    operator, operator_user = company(Kind.OPERATOR, authority_user)
    merchant, merchant_user = company(Kind.MERCHANT, authority_user,
                                      merchant_type="application")
    notary, notary_user = company(Kind.THIRD_PARTY, authority_user,
                                  service_type="notarisation")
    category = Category.objects.create(code=f"C{next(_serial)}", name="基础", branch="base")
    world = World(authority, authority_user, authority_staff, provider, provider_user,
                  operator, operator_user, merchant, merchant_user, notary, notary_user,
                  regulator, regulator_user, person("data-subject"), category)
    for sharing in Sharing.values:
        world.resources[sharing] = resource(provider_user, category, sharing, provider)
    world.product = listed_product(world, operator, operator_user)
    return world


def listed_product(world: World, owner: Participant, owner_user: User,
                   price: str = "1250.00") -> DataProduct:
    """A product of ``owner`` on the unconditional resource, listed by the authority."""
    from contracts import sharing

    if not DataResource.objects.filter(grants__grantee=owner,
                                       pk=world.unconditional.pk).exists():
        sharing.request_sharing(
            by=owner_user, resource=world.unconditional, purpose="product", scenario="s",
            legal_basis="b", period_from=today(), period_until=today() + timedelta(days=30))
    product = products.create_product(by=owner_user, code=f"P-{next(_serial)}", name="产品",
                                     resources=[world.unconditional], price=price)
    products.submit_product(by=owner_user, product=product)
    return products.review_product(by=world.authority_user, product=product, action="list",
                                   reason="试点产品，合规认证在办")


# --- what was written ----------------------------------------------------------------------


def last_seq() -> int:
    entry = Entry.objects.order_by("-seq").first()
    return entry.seq if entry else -1


def entries_after(seq: int) -> list[Entry]:
    return list(Entry.objects.filter(seq__gt=seq).order_by("seq"))


def signer_of(entry: Entry) -> str:
    """The owner of the key that signed the entry."""
    return LedgerKey.objects.get(key_id=entry.key_id).owner


def snapshot(*objects: Any) -> list[dict[str, Any]]:
    """The stored rows of ``objects`` (to prove a refused action changed nothing)."""
    rows = []
    for obj in objects:
        model = type(obj)
        rows.append(model.objects.filter(pk=obj.pk).values().first())
    return rows


def payload_of(entry: Entry) -> dict[str, Any]:
    import json

    return json.loads(entry.payload_row.data)


def perm(user: User, resource: DataResource) -> bool:
    """Does ``user`` (fresh from the database) have the restricted view of ``resource``?"""
    return User.objects.get(pk=user.pk).has_perm("catalog.view_restricted", resource)


def department(world: World, kind: str = Kind.PROVIDER) -> tuple[Participant, User]:
    participant = operators.register_department(code=code(), name_zh="另一部门", kind=kind,
                                                by=world.authority)
    return participant, member(participant, Role.STAFF)
