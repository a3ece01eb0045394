from django.contrib import admin

from clarity.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin

from .models import IdempotencyRecord, InteractionLog


@admin.register(InteractionLog)
class InteractionLogAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    audit_resource_type = "interaction"

    list_display = ("id", "patient", "twin", "kind", "actor", "occurred_at", "recorded_at")
    list_filter = ("kind", "occurred_at")
    search_fields = ("=patient__id", "=patient__mrn", "=twin__id")
    list_select_related = ("patient", "twin", "actor")
    show_full_result_count = False


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "actor", "key", "response_status", "created_at")
    list_filter = ("response_status",)
    search_fields = ("=key", "actor__username")
    list_select_related = ("actor",)
