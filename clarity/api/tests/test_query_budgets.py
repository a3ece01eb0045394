"""No N+1: every list endpoint costs the same number of queries at page_size 5 and 200.

The requests authenticate with real bearer tokens and write their audit events, so
the counts include authentication and auditing.
"""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clarity.api.tests.helpers import bearer_client, body_of, bulk_patients, make_users
from clarity.audit.models import AuditEvent
from patients.models import CareTeamMembership
from patients.tests.factories import make_patient

SIZES = (5, 200)
# Budgets: token lookup; for patient data a savepoint, the page (+ care-team prefetch or
# access check), one audit INSERT and the release.


def _queries_per_size(client, url, max_queries, django_assert_max_num_queries):
    counts = {}
    for size in SIZES:
        # A bulk INSERT is one statement on SQLite too: clarity/sqlite.py lifts Django's
        # 999-parameter assumption to the connection's real limit.
        with django_assert_max_num_queries(max_queries) as captured:
            response = client.get(url, {"page_size": size})
        assert response.status_code == 200, response.content
        assert len(body_of(response)["results"]) == size
        counts[size] = len(captured)
    return counts


@pytest.mark.parametrize("who", ["admin", "clinician"])
def test_the_patient_list_costs_the_same_queries_at_5_and_200(
    admin_user, clinician, other_clinician, who, django_assert_max_num_queries
):
    # Given 205 patients, each with a two-member care team
    bulk_patients(205, primary=clinician, consulting=other_clinician)
    client = bearer_client(admin_user if who == "admin" else clinician)

    # When listing 5 and then 200 of them
    counts = _queries_per_size(client, "/api/v1/patients/", 6, django_assert_max_num_queries)

    # Then both pages cost the same, and every returned patient was audited
    assert counts[5] == counts[200], counts
    assert AuditEvent.objects.filter(action="list").count() == 205


def test_the_care_team_list_costs_the_same_queries_at_5_and_200(clinician, django_assert_max_num_queries):
    patient = make_patient(primary=clinician)
    CareTeamMembership.objects.bulk_create(
        CareTeamMembership(patient=patient, clinician=member, role="consulting") for member in make_users(205)
    )
    client = bearer_client(clinician)

    counts = _queries_per_size(client, f"/api/v1/patients/{patient.pk}/care-team/", 6, django_assert_max_num_queries)

    assert counts[5] == counts[200], counts


def test_the_audit_event_list_costs_the_same_queries_at_5_and_200(admin_user, clinician, django_assert_max_num_queries):
    base = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    AuditEvent.objects.bulk_create(
        AuditEvent(
            occurred_at=base + datetime.timedelta(seconds=i),
            actor=clinician,
            actor_username=clinician.username,
            actor_role="clinician",
            action="read",
            resource_type="patient",
        )
        for i in range(205)
    )
    client = bearer_client(admin_user)

    counts = _queries_per_size(client, "/api/v1/audit-events/", 2, django_assert_max_num_queries)

    assert counts[5] == counts[200], counts


def test_the_user_list_costs_the_same_queries_at_5_and_200(admin_user, django_assert_max_num_queries):
    make_users(205)
    client = bearer_client(admin_user)

    counts = _queries_per_size(client, "/api/v1/users/", 2, django_assert_max_num_queries)

    assert counts[5] == counts[200], counts


def test_a_patient_read_costs_a_fixed_handful_of_queries(clinician, other_clinician, django_assert_max_num_queries):
    patient = make_patient(primary=clinician, consulting=make_users(20))
    client = bearer_client(clinician)

    with django_assert_max_num_queries(7):
        response = client.get(f"/api/v1/patients/{patient.pk}/")

    assert len(body_of(response)["care_team"]) == 21


def test_counting_queries_sees_the_requests_own_queries(admin_user):
    # Guard for the tests above: the test client's queries run on this connection.
    client = bearer_client(admin_user)
    with CaptureQueriesContext(connection) as captured:
        client.get("/api/v1/users/me/")
    assert len(captured) >= 1
