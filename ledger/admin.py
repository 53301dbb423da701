from django.contrib import admin

from kernel.admin import ReadOnlyAdmin
from ledger.models import Checkpoint, Cosignature, Entry, LedgerKey


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("seq", "kind", "actor", "subject", "recorded")
    list_filter = ("kind",)
    search_fields = ("actor", "subject", "leaf_hash")


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ("size", "root", "created")


@admin.register(Cosignature)
class CosignatureAdmin(ReadOnlyAdmin):
    list_display = ("checkpoint", "witness", "key_id")


@admin.register(LedgerKey)
class LedgerKeyAdmin(ReadOnlyAdmin):
    list_display = ("key_id", "owner", "name", "use", "registered_seq", "valid_from", "valid_until")
    list_filter = ("use",)
    search_fields = ("key_id", "owner", "name")
