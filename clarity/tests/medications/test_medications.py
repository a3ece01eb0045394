"""A patient-owned resource made only of the generic pieces, picked up by what iterates them.

The authorization matrix (clarity/api/tests/test_authorization.py) finds this app's endpoint
by itself; these tests show purge_patient does too, and what the endpoint answers.
"""

import pytest
from django.core.management import call_command

from clarity.api.tests.helpers import bearer_client, body_of
from clarity.audit.models import AuditEvent
from patients.models import Patient
from patients.tests.factories import make_patient

from .models import Medication

pytestmark = pytest.mark.django_db


def test_purge_deletes_a_patients_medications_that_would_otherwise_block_it(admin_user, clinician):
    # Given two patients with medications (a PROTECT key to the patient)
    doomed, kept = make_patient(primary=clinician), make_patient(primary=clinician)
    Medication.objects.create(patient=doomed, name="Sertraline")
    Medication.objects.create(patient=kept, name="Lithium")

    # When one is purged
    call_command("purge_patient", str(doomed.pk), "--actor", admin_user.username, "--confirm")

    # Then their medications went with them, and the other patient's stayed
    assert not Patient.objects.filter(pk=doomed.pk).exists()
    assert list(Medication.objects.values_list("patient_id", flat=True)) == [kept.pk]


def test_the_care_team_adds_and_lists_medications_and_each_act_is_audited(clinician):
    # Given a patient in the clinician's care
    patient = make_patient(primary=clinician)
    client = bearer_client(clinician)
    url = f"/api/v1/patients/{patient.pk}/medications/"

    # When they add a medication and list them
    created = client.post(url, {"name": "Sertraline", "dose": "50 mg daily"}, format="json")
    listed = client.get(url)

    # Then the list holds it, and each act left its event
    assert created.status_code == 201
    assert [(row["name"], row["patient"]) for row in body_of(listed)["results"]] == [("Sertraline", str(patient.pk))]
    events = AuditEvent.objects.filter(actor=clinician).order_by("id")
    assert [(e.action, e.resource_type, e.resource_id, e.patient_id) for e in events] == [
        ("create", "medication", body_of(created)["id"], patient.pk),
        ("list", "medication", str(patient.pk), patient.pk),
    ]


def test_an_unknown_field_is_refused_and_nothing_is_created(clinician):
    patient = make_patient(primary=clinician)

    response = bearer_client(clinician).post(
        f"/api/v1/patients/{patient.pk}/medications/", {"name": "X", "mrn": "1"}, format="json"
    )

    assert response.status_code == 400 and "mrn" in body_of(response)["errors"]
    assert not Medication.objects.exists()


def test_a_page_of_medications_costs_the_same_queries_at_5_and_200(clinician, django_assert_max_num_queries):
    from clarity.api.tests.test_query_budgets import _queries_per_size

    patient = make_patient(primary=clinician)
    Medication.objects.bulk_create(Medication(patient=patient, name=f"M{i}") for i in range(205))
    url = f"/api/v1/patients/{patient.pk}/medications/"

    counts = _queries_per_size(bearer_client(clinician), url, 6, django_assert_max_num_queries)

    assert counts[5] == counts[200], counts
