"""Data products: draft, submit for compliance review, list (挂牌), reject, delist; the
listings; third parties' certificates."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import (
    AS_PARTICIPANT,
    WRITE_ERRORS,
    ApiListView,
    ApiView,
    acting_participant,
    entry_ref,
    latest_entry,
    permit,
    with_actions,
    written,
)
from api.catalogue import serializers as s
from api.participants import ReasonSerializer
from catalog import selectors
from catalog.models import Certificate, DataProduct, ProductStatus
from contracts import products
from kernel.api import errors, order_by
from kernel.drf import MultiPartParser
from kernel.uploads import read_upload
from ledger.models import Entry

PRODUCT_ORDER = {"code": "code", "name": "name", "price": "price", "updated": "updated"}


def product_of(request: Request, code: str) -> DataProduct:
    """The product named in the URL, if the user may see it (404 otherwise)."""
    return selectors.product(request.user, code)


def product_written(request: Request, product: DataProduct, *, appended: bool,
                    status: int = 200) -> Response:
    entry = latest_entry(products.product_subject(product)) if appended else None
    fresh = DataProduct.objects.select_related("owner").get(pk=product.pk)
    return written(s.ProductSerializer, fresh, request, entry, status)


def _filtered(query: QuerySet[DataProduct], params: dict[str, Any]) -> QuerySet[DataProduct]:
    if params.get("q"):
        text = params["q"]
        query = query.filter(Q(code__icontains=text) | Q(name__icontains=text)
                             | Q(description__icontains=text))
    if params.get("status"):
        query = query.filter(status=params["status"])
    if params.get("owner"):
        query = query.filter(owner__code=params["owner"])
    if params.get("resource"):
        query = query.filter(resources__code=params["resource"]).distinct()
    return order_by(query.prefetch_related("resources"), params.get("ordering"),
                    PRODUCT_ORDER, "code")


class ProductListView(ApiListView):
    """The products you may see: listed ones, your own, and (for the data authority,
    regulators and auditors) all."""

    serializer_class = s.ProductSerializer
    query_serializer = s.ProductQuery

    def get_queryset(self) -> QuerySet[DataProduct]:
        return _filtered(selectors.products(self.request.user), self.query())

    @extend_schema(operation_id="catalog_products_list", parameters=[s.ProductQuery],
                   responses={200: s.ProductSerializer(many=True), **errors(400, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="catalog_products_create",
        summary="Create a draft product (admitted operators and data merchants)",
        description="Built on resources you hold an active grant on. Drafts are not on the "
                    "ledger (``entry`` is null) until submitted.",
        parameters=[AS_PARTICIPANT], request=s.ProductCreateSerializer,
        examples=[OpenApiExample("A credit-scoring product", request_only=True, value={
            "code": "DP-2026-001", "name": "小微企业信用评分",
            "resources": ["RS-110000-0042"], "price": "1250.00", "currency": "CNY"})],
        responses={201: s.ProductWrittenSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        products.product_maker(request.user, acting_participant(request))
        form = s.ProductCreateSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        product = products.create_product(by=request.user, owner=acting_participant(request),
                                           **form.validated_data)
        return product_written(request, product, appended=False, status=201)


class ListingListView(ApiListView):
    """The market: products listed (挂牌) after the data authority's compliance review."""

    serializer_class = s.ProductSerializer
    query_serializer = s.ListingQuery

    def get_queryset(self) -> QuerySet[DataProduct]:
        listed = selectors.products(self.request.user).filter(status=ProductStatus.LISTED)
        return _filtered(listed, self.query())

    @extend_schema(operation_id="catalog_listings_list", parameters=[s.ListingQuery],
                   responses={200: s.ProductSerializer(many=True), **errors(400, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


PRODUCT_DETAIL = with_actions(s.ProductSerializer)


class ProductDetailView(ApiView):
    """A product you may see: listed ones, your own, those submitted for review (third
    parties), any (the data authority, regulators, auditors)."""

    @extend_schema(operation_id="catalog_products_retrieve",
                   responses={200: PRODUCT_DETAIL, **errors(404)})
    def get(self, request: Request, code: str) -> Response:
        return Response(PRODUCT_DETAIL(product_of(request, code),
                                       context={"request": request}).data)


class ProductSubmitView(ApiView):
    """Its owner submits a draft or rejected product (catalog.product.submitted); it must
    still hold grants on every resource. Otherwise 409."""

    @extend_schema(
        operation_id="catalog_products_submit",
        summary="Submit a draft (or rejected) product for compliance review (its owner)",
        request=None,
        responses={200: s.ProductWrittenSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, code: str) -> Response:
        product = products.submit_product(by=request.user, product=product_of(request, code))
        return product_written(request, product, appended=True)


OPERATION = {"list": "list_on_market"}  # "catalog_products_list" is the GET of the list


def _review_view(action: str, summary: str) -> type[ApiView]:
    class ReviewView(ApiView):

        @extend_schema(
            operation_id=f"catalog_products_{OPERATION.get(action, action)}",
            summary=summary,
            description="The data authority's compliance review (an admin or reviewer of "
                        "it). Not allowed from the product's status: 409, nothing changes.",
            request=ReasonSerializer,
            responses={200: s.ProductWrittenSerializer, **WRITE_ERRORS},
        )
        def post(self, request: Request, code: str) -> Response:
            product = product_of(request, code)
            permit(request, product, action)
            form = ReasonSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            reviewed = products.review_product(by=request.user, product=product, action=action,
                                               reason=form.validated_data["reason"])
            return product_written(request, reviewed, appended=True)

    ReviewView.__name__ = f"Product{action.title()}View"
    ReviewView.__qualname__ = ReviewView.__name__
    return ReviewView


ProductListActionView = _review_view("list", "List a submitted product (挂牌)")
ProductRejectView = _review_view("reject", "Reject a submitted product (reason required)")
ProductDelistView = _review_view("delist", "Delist a listed product (reason required)")


class CertificateListView(ApiListView):
    """Certificates, notarisations and valuations attached to the product, newest first."""

    serializer_class = s.CertificateSerializer
    query_serializer = s.CertificateQuery
    parser_classes = [MultiPartParser]

    def get_queryset(self) -> QuerySet[Certificate]:
        product = product_of(self.request, self.kwargs["code"])
        query = self.query()
        found = product.certificates.select_related("product", "issuer")
        if query.get("kind"):
            found = found.filter(kind=query["kind"])
        return order_by(found, query.get("ordering"), {"issued": "issued"}, "-issued")

    @extend_schema(operation_id="catalog_certificates_list", parameters=[s.CertificateQuery],
                   responses={200: s.CertificateSerializer(many=True), **errors(400, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="catalog_certificates_attach",
        summary="Attach a certificate, notarisation or valuation (third-party services)",
        description="The document stays with you; the ledger records its SM3 digest in "
                    "catalog.certificate.issued. The kind must be your service type.",
        parameters=[AS_PARTICIPANT],
        request={"multipart/form-data": s.CertificateInputSerializer},
        responses={201: s.CertificateWrittenSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, code: str) -> Response:
        product = product_of(request, code)
        issuer = products.certifier(request.user, acting_participant(request))
        form = s.CertificateInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        document = data["document"]
        certificate = products.attach_certificate(
            by=request.user, product=product, kind=data["kind"], document_name=document.name,
            document=read_upload(document, products.MAX_CERTIFICATE) or b"",
            summary=data["summary"], issuer=issuer)
        entry = entry_ref(Entry.objects.filter(seq=certificate.entry_seq).first())
        return written(s.CertificateSerializer, certificate, request, entry, 201)
