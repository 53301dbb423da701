from django.contrib import admin

from kernel.admin import ReadOnlyAdmin
from operators.models import Membership, Participant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    """Participants change only through registration and its ledger entries."""

    list_display = ("code", "name_zh", "kind", "status")
    list_filter = ("kind", "status")
    search_fields = ("code", "name_zh", "name_en")
    inlines = [MembershipInline]
