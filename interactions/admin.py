from django.contrib import admin

from clarity.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin, ReviewAdminMixin
from clarity.admin_site import patient_label, twin_label, user_label

from .models import IdempotencyRecord, InteractionLog


@admin.register(InteractionLog)
class InteractionLogAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    audit_resource_type = "interaction"

    list_display = ("id", "patient_name", "twin_name", "kind", "actor_name", "occurred_at")
    list_filter = ("kind",)
    date_hierarchy = "occurred_at"
    search_fields = ("=patient__id", "=patient__mrn", "=twin__id")
    list_select_related = ("patient", "twin", "actor")
    fields = ("id", "patient", "twin", "kind", "payload", "actor", "occurred_at", "recorded_at")

    @admin.display(description="patient", ordering="patient__family_name")
    def patient_name(self, obj):
        return patient_label(obj.patient)

    @admin.display(description="twin")
    def twin_name(self, obj):
        return twin_label(obj.twin) if obj.twin else "—"

    @admin.display(description="by")
    def actor_name(self, obj):
        return user_label(obj.actor) if obj.actor else "system"


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReviewAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Keys and outcomes only: the stored response body (interaction text, PHI) is not shown here."""

    list_display = ("key", "actor", "response_status", "created_at")
    list_filter = ("response_status",)
    date_hierarchy = "created_at"
    search_fields = ("=key", "actor__username")
    list_select_related = ("actor",)
    fields = ("id", "actor", "key", "request_fingerprint", "response_status", "created_at")
    readonly_fields = fields
