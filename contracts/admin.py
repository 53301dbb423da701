"""Admin: the holiday calendar is editable; workflow records are read-only here, because
every change to them must go through a service and its ledger entry."""

from __future__ import annotations

from django.contrib import admin

from contracts.models import (
    Delivery,
    ErasureRequest,
    Grant,
    Holiday,
    Objection,
    OperationAgreement,
    Order,
    SharingRequest,
)
from kernel.admin import ReadOnlyAdmin


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ("day", "working", "name")
    list_filter = ("working",)
    date_hierarchy = "day"
    search_fields = ("name",)


@admin.register(SharingRequest)
class SharingRequestAdmin(ReadOnlyAdmin):
    list_display = ("pk", "requester", "resource", "state", "due", "escalated_at")
    list_filter = ("state",)


@admin.register(OperationAgreement)
class OperationAgreementAdmin(ReadOnlyAdmin):
    list_display = ("code", "authority", "operator", "state", "term_start", "term_end")
    list_filter = ("state",)


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = ("pk", "grantee", "resource", "state", "valid_from", "valid_until")
    list_filter = ("state",)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("pk", "grant", "rows", "disputed", "entry_seq", "delivered")


@admin.register(Objection)
class ObjectionAdmin(ReadOnlyAdmin):
    list_display = ("pk", "resource", "ground", "state", "accept_due", "escalated_at")
    list_filter = ("state", "ground")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("code", "product", "buyer", "seller", "amount", "currency", "state")
    list_filter = ("state",)


@admin.register(ErasureRequest)
class ErasureRequestAdmin(ReadOnlyAdmin):
    list_display = ("pk", "controller", "ground", "scope", "state", "due", "escalated_at")
    list_filter = ("state", "ground")
