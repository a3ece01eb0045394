from django.contrib import admin

from clarity.admin_mixins import ReadOnlyAdminMixin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "occurred_at",
        "actor_username",
        "actor_role",
        "action",
        "resource_type",
        "resource_id",
        "patient_id",
        "outcome",
        "break_glass",
    )
    list_filter = ("action", "outcome", "break_glass", "actor_role", "resource_type")
    search_fields = ("=actor_username", "=resource_id", "=patient_id", "=request_id")
    list_select_related = ("actor",)
    date_hierarchy = "occurred_at"
    show_full_result_count = False
