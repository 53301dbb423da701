"""Data products (数据产品) and their market: draft, submit for compliance review, list
(挂牌), reject, delist, and third parties' certificates, notarisations and valuations.

A product is built on resources its owner holds a valid grant for, so products live beside
the grants (and the orders that buy them); their rows stay in the catalogue
(``catalog.models.DataProduct``). Each public act is one ledger entry in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from catalog import access
from catalog import selectors as catalog
from catalog.models import Certificate, DataProduct, DataResource, ProductStatus
from contracts import selectors
from crypto.sm3 import sm3_hex
from kernel.errors import InvalidInput, NotPermitted
from kernel.money import Money, money_text
from kernel.states import Machine, Transition
from kernel.text import required_text
from kernel.uploads import MiB, check_size
from ledger import services as ledger
from operators import authz, capabilities
from operators.models import Kind, Participant, ServiceType
from operators.transitions import Recorded, take


def _maker(user: Any, product: DataProduct) -> Participant:
    return authz.acting_for(user, product.owner, kinds=capabilities.MARKET_KINDS)


def _reviewer(user: Any, product: DataProduct) -> Participant:
    return authz.acting_for(user, kinds=[Kind.AUTHORITY], roles=capabilities.REVIEW_ROLES)


PS = ProductStatus
PRODUCT: Machine[DataProduct] = Machine("product", [
    Transition("submit", (PS.DRAFT, PS.REJECTED), PS.SUBMITTED, _maker),
    Transition("list", (PS.SUBMITTED,), PS.LISTED, _reviewer),
    Transition("reject", (PS.SUBMITTED,), PS.REJECTED, _reviewer),
    Transition("delist", (PS.LISTED,), PS.DELISTED, _reviewer),
], field="status")
PRODUCT_KINDS = {"submit": "submitted", "list": "listed", "reject": "rejected",
                 "delist": "delisted"}
CERTIFICATE_KINDS = set(ServiceType.values)
MAX_CERTIFICATE = 20 * MiB


def product_maker(by: Any, owner: Participant | None = None) -> Participant:
    """Who may build a product: an admitted authorised operator or data merchant."""
    return authz.acting_for(by, owner, kinds=capabilities.MARKET_KINDS)


def certifier(by: Any, issuer: Participant | None = None) -> Participant:
    """Who may attach certificates: an admitted third-party service."""
    return authz.acting_for(by, issuer, kinds=[Kind.THIRD_PARTY])


def _product_payload(product: DataProduct, **extra: Any) -> dict[str, Any]:
    return {
        "product": product.code, "owner": product.owner.code, "name": product.name,
        "resources": sorted(product.resources.values_list("code", flat=True)),
        "price": money_text(product.price), "currency": product.currency,
        "status": product.status, **extra,
    }


def is_certified(product: DataProduct) -> bool:
    """Has a compliance certification service (合规认证) certified the product?"""
    return product.certificates.filter(kind="certification").exists()


def product_subject(product: DataProduct) -> str:
    return f"catalog/product/{product.code}"


def _check_granted(owner: Participant, resources: Sequence[DataResource]) -> None:
    for resource in resources:
        if not selectors.holds_grant(owner, resource):
            raise InvalidInput("resources", _("%(name)s holds no valid grant for %(code)s"),
                               name=owner.name_zh, code=resource.code)


def create_product(*, by: authz.User, code: str, name: str,
                   resources: Sequence[DataResource], price: Any, currency: str = "CNY",
                   description: str = "", owner: Participant | None = None) -> DataProduct:
    """A draft product of an admitted operator or merchant, on resources it was granted."""
    maker = product_maker(by, owner)
    if not code.strip() or DataProduct.objects.filter(code=code).exists():
        raise InvalidInput("code", _("is required and must be new"))
    if not name.strip():
        raise InvalidInput("name", _("is required"))
    if not resources:
        raise InvalidInput("resources", _("a product is built on at least one resource"))
    price_of = Money.parse(price, currency, amount_field="price")
    for resource in resources:
        access.require_visible(by, resource)
    _check_granted(maker, resources)
    with transaction.atomic():
        product = DataProduct.objects.create(code=code.strip(), owner=maker, name=name.strip(),
                                             description=description, price=price_of.amount,
                                             currency=price_of.currency)
        product.resources.set(resources)
    return product


PRODUCT_RECORDED: Recorded[DataProduct] = Recorded(
    kind=lambda action: f"catalog.product.{PRODUCT_KINDS[action]}",
    subject=lambda p: product_subject(p), payload=lambda p: _product_payload(p),
    related=("owner",))


def submit_product(*, by: authz.User, product: DataProduct) -> DataProduct:
    """Submit for compliance review by the data authority."""
    catalog.require_visible_product(by, product)

    def change(locked: DataProduct, maker: Participant) -> None:
        _check_granted(maker, list(locked.resources.all()))
        locked.review_reason = ""

    return take(PRODUCT, PRODUCT_RECORDED, product, "submit", by=by, change=change)


def review_product(*, by: authz.User, product: DataProduct, action: str,
                   reason: str = "") -> DataProduct:
    """The data authority's compliance review: list, reject (reason) or delist (reason).

    A product with no compliance certificate (合规认证) yet is listed only with the reason
    why, which goes on the ledger with the listing."""
    catalog.require_visible_product(by, product)
    if action not in ("list", "reject", "delist"):
        raise InvalidInput("action", _("must be list, reject or delist"))

    def change(locked: DataProduct, authority: Participant) -> dict[str, Any]:
        text = (reason or "").strip()
        if action == "list" and not is_certified(locked):
            text = required_text("reason", reason, _("to list a product that has no "
                                                     "compliance certificate (合规认证) yet"))
        elif action != "list":
            text = required_text("reason", reason, _("to reject a product") if action == "reject"
                                 else _("to delist a product"))
        locked.review_reason = text
        return {"reason": text}

    return take(PRODUCT, PRODUCT_RECORDED, product, action, by=by, change=change)


def attach_certificate(*, by: authz.User, product: DataProduct, kind: str,
                       document_name: str, document: bytes, summary: str = "",
                       issuer: Participant | None = None) -> Certificate:
    """A third party certifies, notarises or values a product; its own entry records the
    document's SM3 digest. Third parties see (and so certify) products submitted for
    review and listed ones."""
    catalog.require_visible_product(by, product)
    party = certifier(by, issuer)
    if kind not in CERTIFICATE_KINDS:
        raise InvalidInput("kind", _("must be one of %(choices)s"),
                           choices=", ".join(sorted(CERTIFICATE_KINDS)))
    if party.service_type != kind:
        labels = dict(ServiceType.choices)
        raise NotPermitted(_("%(name)s provides %(service)s, not %(kind)s"),
                           name=party.name_zh, service=labels.get(party.service_type, ""),
                           kind=labels[kind])
    if not document:
        raise InvalidInput("document", _("is empty"))
    check_size("document", document, MAX_CERTIFICATE)
    if not document_name.strip():
        raise InvalidInput("document_name", _("is required"))

    digest = sm3_hex(document)
    with transaction.atomic():
        entry = ledger.record(
            actor=party.code, kind="catalog.certificate.issued",
            subject=product_subject(product),
            payload={"product": product.code, "kind": kind, "document": document_name,
                     "document_sm3": digest, "summary": summary},
        )
        return Certificate.objects.create(product=product, issuer=party, kind=kind,
                                          document_name=document_name, digest=digest,
                                          summary=summary, entry_seq=entry.seq)
