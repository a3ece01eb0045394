from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from clarity.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin
from clarity.admin_site import patient_label, user_label
from twins.models import DigitalTwin

from . import services
from .models import BreakGlassGrant, CareTeamMembership, CareTeamRole, Patient
from .registry import owned_models, patient_path


class CareTeamFormSet(forms.BaseInlineFormSet):
    def clean(self):
        """The rules the care-team service enforces, shown on the form instead of a refusal after saving."""
        super().clean()
        for form in self.deleted_forms:
            if form.instance.pk and CareTeamRole.is_primary(form.instance.role):
                raise ValidationError("The primary clinician cannot be removed; a patient always has one.")
        staying = [f for f in self.forms if f not in self.deleted_forms and f.cleaned_data]
        primaries = [
            f for f in staying if CareTeamRole.is_primary(f.cleaned_data.get("role", getattr(f.instance, "role", None)))
        ]
        if len(primaries) > 1:
            raise ValidationError("The patient already has a primary clinician.")


class CareTeamInline(admin.TabularInline):
    """Members are added and removed (through the care-team services); a member's role is not edited in place."""

    model = CareTeamMembership
    formset = CareTeamFormSet
    template = "clarity/admin/tabular.html"
    extra = 0
    autocomplete_fields = ("clinician",)
    fields = ("clinician", "role", "created_at")
    readonly_fields = ("created_at",)
    verbose_name = "care-team member"

    def has_change_permission(self, request, obj=None):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "clinician":
            kwargs["queryset"] = db_field.related_model.objects.filter(role="clinician", is_active=True)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        field.label_from_instance = user_label
        return field


class TwinInline(admin.TabularInline):
    model = DigitalTwin
    template = "clarity/admin/tabular.html"
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

    list_display = ("label", "mrn", "family_name", "given_name", "date_of_birth", "status", "updated_at")
    list_display_links = ("label",)
    list_filter = ("status", "sex")
    search_fields = ("=mrn", "family_name", "given_name")
    ordering = ("family_name", "given_name", "id")
    list_select_related = ("user",)
    fields = (
        "id", "mrn", "given_name", "family_name", "date_of_birth", "sex", "status",
        "email", "phone", "address", "user", "records", "audit_trail", "version", "created_at", "updated_at",
    )  # fmt: skip
    readonly_fields = ("id", "records", "audit_trail", "version", "created_at", "updated_at")
    autocomplete_fields = ("user",)
    inlines = (CareTeamInline, TwinInline)

    @admin.display(description="patient", ordering="family_name")
    def label(self, obj):
        return patient_label(obj)

    @admin.display(description="records held")
    def records(self, obj):
        """A link per kind of record the apps declare as the patient's (patients/registry.py),
        to its list narrowed to this patient; no counting, so the page costs no extra query."""
        links = []
        for model in owned_models():
            path = patient_path(model)
            if path is None or "__" in path or not self.admin_site.is_registered(model):
                continue  # reached through another record (a twin's revisions: on the twin's page)
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            links.append((f"{url}?{path}={obj.pk}", capfirst(model._meta.verbose_name_plural)))
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    @admin.display(description="audit trail")
    def audit_trail(self, obj):
        url = reverse("admin:audit_auditevent_changelist")
        return format_html(
            '<a href="{}?patient_id={}&amp;own_lists=shown">Every audit event for this patient</a>', url, obj.pk
        )

    def has_add_permission(self, request):
        # Created through the API (POST /api/v1/patients/), which names the primary clinician.
        return False

    def has_delete_permission(self, request, obj=None):
        # PHI is retained: patients are made inactive, and hard delete is `purge_patient`.
        return False

    def save_model(self, request, obj, form, change):
        """Through patient_update, as PATCH /api/v1/patients/{id}/ (same checks, same `update` event)."""
        if not form.changed_data:
            return
        data = {name: form.cleaned_data[name] for name in form.changed_data}
        if "user" in data:
            data["user"] = data["user"].pk if data["user"] else None
        services.patient_update(
            actor=request.user, patient_id=obj.pk, data=data, if_match=None, ctx=self.audit_context(request)
        )

    def save_formset(self, request, form, formset, change):
        """Care-team changes through care_team_add/remove: each is the care-team event the API writes."""
        if formset.model is not CareTeamMembership:
            return super().save_formset(request, form, formset, change)
        patient = form.instance
        for member in formset.deleted_forms:
            if member.instance.pk:
                services.care_team_remove(
                    actor=request.user,
                    patient_id=patient.pk,
                    clinician_id=member.instance.clinician_id,
                    ctx=self.audit_context(request),
                )
        for member in formset.extra_forms:
            if member.has_changed() and member not in formset.deleted_forms:
                services.care_team_add(
                    actor=request.user,
                    patient_id=patient.pk,
                    clinician_id=member.cleaned_data["clinician"].pk,
                    role=member.cleaned_data["role"],
                    ctx=self.audit_context(request),
                )
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        return None


@admin.register(CareTeamMembership)
class CareTeamMembershipAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """A view across patients; members are added and removed in the patient's page."""

    audit_resource_type = "care_team"

    list_display = ("patient_name", "clinician_name", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("=patient__mrn", "clinician__username")
    list_select_related = ("patient", "clinician")

    @admin.display(description="patient", ordering="patient__family_name")
    def patient_name(self, obj):
        return patient_label(obj.patient)

    @admin.display(description="clinician", ordering="clinician__username")
    def clinician_name(self, obj):
        return user_label(obj.clinician)


@admin.register(BreakGlassGrant)
class BreakGlassGrantAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only. The free-text reason can quote PHI: opening a grant is audited (`read`), like every list."""

    audit_resource_type = "break_glass"

    list_display = ("patient_name", "clinician_name", "created_at", "expires_at")
    list_filter = ("created_at",)
    date_hierarchy = "created_at"
    search_fields = ("clinician__username", "=patient__mrn")
    list_select_related = ("patient", "clinician")
    fields = ("id", "patient", "clinician", "reason", "created_at", "expires_at")
    readonly_fields = fields

    @admin.display(description="patient", ordering="patient__family_name")
    def patient_name(self, obj):
        return patient_label(obj.patient)

    @admin.display(description="clinician", ordering="clinician__username")
    def clinician_name(self, obj):
        return user_label(obj.clinician)
