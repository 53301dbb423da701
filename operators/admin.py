from django.contrib import admin

from operators.models import Membership, Participant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "kind", "status")
    list_filter = ("kind", "status")
    search_fields = ("code", "name_zh", "name_en")
    inlines = [MembershipInline]
    readonly_fields = ("code", "kind", "status", "group")
