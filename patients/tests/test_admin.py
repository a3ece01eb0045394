import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.models import BreakGlassGrant
from patients.tests.factories import CareTeamMembershipFactory
from twins.tests.factories import DigitalTwinFactory

pytestmark = pytest.mark.django_db


def test_admin_lists_searches_and_opens_patients(admin_client):
    membership = CareTeamMembershipFactory(role="primary", patient__family_name="Lovelace")
    DigitalTwinFactory(patient=membership.patient)
    patient = membership.patient

    changelist = admin_client.get(reverse("admin:patients_patient_changelist"))
    by_mrn = admin_client.get(reverse("admin:patients_patient_changelist"), {"q": patient.mrn})
    by_name = admin_client.get(reverse("admin:patients_patient_changelist"), {"q": "Lovelace"})
    change = admin_client.get(reverse("admin:patients_patient_change", args=[patient.pk]))

    assert changelist.status_code == 200
    assert by_mrn.status_code == 200 and by_mrn.context["cl"].result_count == 1
    assert by_name.status_code == 200 and by_name.context["cl"].result_count == 1
    assert change.status_code == 200


def test_admin_lists_searches_and_opens_care_team_memberships(admin_client):
    membership = CareTeamMembershipFactory()

    changelist = admin_client.get(reverse("admin:patients_careteammembership_changelist"))
    search = admin_client.get(
        reverse("admin:patients_careteammembership_changelist"), {"q": membership.clinician.username}
    )
    change = admin_client.get(reverse("admin:patients_careteammembership_change", args=[membership.pk]))

    assert changelist.status_code == 200
    assert search.status_code == 200 and search.context["cl"].result_count == 1
    assert change.status_code == 200


def test_admin_shows_break_glass_grants_read_only(admin_client):
    membership = CareTeamMembershipFactory()
    now = timezone.now()
    grant = BreakGlassGrant.objects.create(
        patient=membership.patient,
        clinician=membership.clinician,
        reason="Patient in crisis at the emergency department",
        expires_at=now + datetime.timedelta(hours=4),
    )

    changelist = admin_client.get(reverse("admin:patients_breakglassgrant_changelist"))
    search = admin_client.get(reverse("admin:patients_breakglassgrant_changelist"), {"q": membership.patient.mrn})
    change = admin_client.get(reverse("admin:patients_breakglassgrant_change", args=[grant.pk]))
    add = admin_client.get(reverse("admin:patients_breakglassgrant_add"))

    assert changelist.status_code == 200
    assert search.status_code == 200 and search.context["cl"].result_count == 1
    assert change.status_code == 200 and b'name="_save"' not in change.content
    assert add.status_code == 403


def test_admin_cannot_delete_a_patient(admin_client):
    patient = CareTeamMembershipFactory().patient

    response = admin_client.get(reverse("admin:patients_patient_delete", args=[patient.pk]))

    assert response.status_code == 403


def test_the_patient_page_links_each_kind_of_record_the_apps_declare_to_its_list_for_that_patient(admin_client):
    import re

    from django.contrib import admin

    from patients.registry import owned_models, patient_path

    # Given a patient with a twin, and another patient with one
    mine = CareTeamMembershipFactory(role="primary").patient
    DigitalTwinFactory(patient=mine)
    DigitalTwinFactory(patient=CareTeamMembershipFactory(role="primary").patient)

    # When an admin opens the patient's page
    page = admin_client.get(reverse("admin:patients_patient_change", args=[mine.pk])).content.decode()

    # Then every declared record kind reached by a direct key and shown in the admin is linked...
    links = dict(re.findall(r'<a href="([^"]+)">([^<]+)</a>', page))
    expected = {
        reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist") + f"?patient_id={mine.pk}"
        for m in owned_models()
        if patient_path(m) == "patient_id" and admin.site.is_registered(m)
    }
    assert expected <= set(links)
    # ...and each link lists that patient's rows only
    twins = admin_client.get(reverse("admin:twins_digitaltwin_changelist") + f"?patient_id={mine.pk}")
    assert twins.status_code == 200 and [t.patient_id for t in twins.context["cl"].result_list] == [mine.pk]
