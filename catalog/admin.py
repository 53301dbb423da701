from django.contrib import admin

from catalog.models import Category, DataProduct, DataResource, ResourceVersion
from kernel.admin import ReadOnlyAdmin


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    """The subject classification tree (分类) is the data authority's reference data."""

    list_display = ("code", "name", "name_en", "branch", "parent")
    list_filter = ("branch",)
    search_fields = ("code", "name", "name_en")


@admin.register(DataResource)
class DataResourceAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "provider", "grade", "sharing", "opening", "status", "version")
    list_filter = ("status", "grade", "sharing", "opening")
    search_fields = ("code", "name")


@admin.register(ResourceVersion)
class ResourceVersionAdmin(ReadOnlyAdmin):
    list_display = ("resource", "number", "digest", "entry_seq", "published")


@admin.register(DataProduct)
class DataProductAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "owner", "status", "price", "currency")
    list_filter = ("status",)
