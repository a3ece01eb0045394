from django.contrib import admin

from clarity.admin_mixins import AuditedAdminMixin
from twins.models import DigitalTwin

from .models import BreakGlassGrant, CareTeamMembership, Patient


class CareTeamInline(admin.TabularInline):
    model = CareTeamMembership
    extra = 0
    autocomplete_fields = ("clinician",)
    fields = ("clinician", "role", "created_at")
    readonly_fields = ("created_at",)


class TwinInline(admin.TabularInline):
    model = DigitalTwin
    extra = 0
    fields = ("name", "twin_type", "status", "version", "updated_at")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        # Twins are created through the API, which also writes their first revision.
        return False


@admin.register(Patient)
class PatientAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_resource_type = "patient"

    def audit_patient_id(self, obj):
        return obj.pk

    list_display = ("id", "mrn", "family_name", "given_name", "date_of_birth", "status", "version", "updated_at")
    list_filter = ("status", "sex")
    search_fields = ("=mrn", "family_name", "given_name")
    list_select_related = ("user",)
    readonly_fields = ("id", "version", "created_at", "updated_at")
    raw_id_fields = ("user",)
    inlines = (CareTeamInline, TwinInline)

    def has_delete_permission(self, request, obj=None):
        # PHI is retained: patients are made inactive, and hard delete is `purge_patient`.
        return False


@admin.register(CareTeamMembership)
class CareTeamMembershipAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_resource_type = "care_team"

    list_display = ("id", "patient", "clinician", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("=patient__mrn", "clinician__username")
    list_select_related = ("patient", "clinician")
    raw_id_fields = ("patient", "clinician")


@admin.register(BreakGlassGrant)
class BreakGlassGrantAdmin(admin.ModelAdmin):
    list_display = ("id", "patient", "clinician", "created_at", "expires_at")
    list_filter = ("created_at",)
    search_fields = ("clinician__username", "=patient__mrn")
    list_select_related = ("patient", "clinician")
    readonly_fields = ("id", "patient", "clinician", "reason", "created_at", "expires_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
