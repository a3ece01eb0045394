"""The Django admin as Clarity's staff-review workspace: its branding, login notice and labels."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.views.autocomplete import AutocompleteJsonView


def user_label(user) -> str:
    """A clinician or other account as people know it: name and username."""
    full_name = user.get_full_name()
    return f"{full_name} ({user.username})" if full_name else user.username


def patient_label(patient) -> str:
    """MRN and name. PHI on purpose: only admin pages use it, and each of them is audited."""
    return f"{patient.mrn} · {patient.family_name}, {patient.given_name}"


def twin_label(twin) -> str:
    return f"{twin.name} ({twin.get_twin_type_display()})"


def label(obj) -> str:
    """The admin's label for a record; models' __str__ stays id-only (it reaches logs)."""
    from clarity.users.models import User
    from patients.models import Patient
    from twins.models import DigitalTwin

    for model, function in ((User, user_label), (Patient, patient_label), (DigitalTwin, twin_label)):
        if isinstance(obj, model):
            return function(obj)
    return str(obj)


class LabelledAutocompleteJsonView(AutocompleteJsonView):
    def serialize_result(self, obj, to_field_name):
        return {**super().serialize_result(obj, to_field_name), "text": label(obj)}


class ClarityAdminSite(admin.AdminSite):
    site_header = "Clarity staff review"
    site_title = "Clarity staff review"
    index_title = "Records under review"
    # The authorised-use notice (HIPAA practice) above Django's own login form.
    login_template = "admin/clarity_login.html"

    def autocomplete_view(self, request):
        return LabelledAutocompleteJsonView.as_view(admin_site=self)(request)


class ClarityAdminConfig(AdminConfig):
    default_site = "clarity.admin_site.ClarityAdminSite"
