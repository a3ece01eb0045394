from django.contrib import admin

from clarity.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin

from .models import DigitalTwin, TwinRevision


class RevisionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TwinRevision
    extra = 0
    fields = ("version", "configuration", "changed_by", "changed_at")
    readonly_fields = fields
    ordering = ("-version",)


@admin.register(DigitalTwin)
class DigitalTwinAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_resource_type = "twin"

    list_display = ("id", "patient", "name", "twin_type", "status", "version", "updated_at")
    list_filter = ("twin_type", "status")
    search_fields = ("=id", "=patient__mrn", "name")
    list_select_related = ("patient", "created_by")
    # Configuration changes must go through the API so that each one writes a revision.
    readonly_fields = ("id", "patient", "twin_type", "configuration", "version", "created_by", "created_at", "updated_at")
    fields = ("id", "patient", "name", "twin_type", "status", "configuration", "state", "version", "created_by", "created_at", "updated_at")
    inlines = (RevisionInline,)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TwinRevision)
class TwinRevisionAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    audit_resource_type = "twin_revision"

    def audit_patient_id(self, obj):
        return obj.twin.patient_id

    list_display = ("id", "twin", "version", "changed_by", "changed_at")
    list_filter = ("changed_at",)
    search_fields = ("=twin__id",)
    list_select_related = ("twin", "changed_by")
