from django.contrib import admin

from clarity.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin
from clarity.admin_site import patient_label, twin_label, user_label

from . import services
from .models import DigitalTwin, TwinRevision


class RevisionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TwinRevision
    template = "clarity/admin/tabular.html"
    extra = 0
    fields = ("version", "configuration", "changed_by", "changed_at")
    readonly_fields = fields
    ordering = ("-version",)


@admin.register(DigitalTwin)
class DigitalTwinAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_resource_type = "twin"

    list_display = ("label", "patient_name", "twin_type", "status", "version", "updated_at")
    list_display_links = ("label",)
    list_filter = ("twin_type", "status")
    search_fields = ("=id", "=patient__mrn", "name")
    list_select_related = ("patient", "created_by")
    autocomplete_fields = ("patient",)
    # `state` is written by the modelling engine only; configuration changes are edited
    # here but saved through twin_update, which writes the revision (as PATCH does).
    readonly_fields = ("id", "patient", "twin_type", "state", "version", "created_by", "created_at", "updated_at")
    fields = ("id", "patient", "name", "twin_type", "status", "configuration", "state", "version", "created_by", "created_at", "updated_at")  # fmt: skip
    inlines = (RevisionInline,)

    @admin.display(description="twin", ordering="name")
    def label(self, obj):
        return twin_label(obj)

    @admin.display(description="patient", ordering="patient__family_name")
    def patient_name(self, obj):
        return patient_label(obj.patient)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Through twin_update, as PATCH /api/v1/twins/{id}/: version bump, revision, `update` event."""
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in services.UPDATABLE_FIELDS}
        if data:
            services.twin_update(
                actor=request.user, twin_id=obj.pk, data=data, if_match=None, ctx=self.audit_context(request)
            )


@admin.register(TwinRevision)
class TwinRevisionAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    audit_resource_type = "twin_revision"

    def audit_patient_id(self, obj):
        return obj.twin.patient_id

    list_display = ("twin_name", "version", "changed_by_name", "changed_at")
    list_filter = ("changed_at",)
    date_hierarchy = "changed_at"
    search_fields = ("=twin__id", "=twin__patient__mrn")
    list_select_related = ("twin", "changed_by")

    @admin.display(description="twin", ordering="twin__name")
    def twin_name(self, obj):
        return twin_label(obj.twin)

    @admin.display(description="changed by")
    def changed_by_name(self, obj):
        return user_label(obj.changed_by) if obj.changed_by else "—"
