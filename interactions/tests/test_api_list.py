import datetime
import re

import pytest
from django.db import connection

from clarity.audit.models import AuditEvent
from clarity.partitions import index_names
from patients.tests.factories import make_patient
from twins.tests.factories import make_twin

from ..models import InteractionLog
from ..selectors import interactions_of
from .helpers import BASE_TIME, make_interactions

pytestmark = pytest.mark.django_db


def url(patient):
    return f"/api/v1/patients/{patient.pk}/interactions/"


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", 401),
        ("researcher", 403),
        ("patient_own", 200),
        ("patient_other", 404),
        ("primary", 200),
        ("consulting", 200),
        ("not_on_team", 404),
        ("admin", 200),
        ("break_glass", 200),
    ],
)
def test_listing_interactions_follows_the_access_rules(world, client_for, who, expected):
    make_interactions(world.patient, 2)

    response = client_for(world.users[who]).get(url(world.patient))

    assert response.status_code == expected
    if expected == 200:
        assert len(response.json()["results"]) == 2


def test_list_is_newest_first_by_occurred_at_then_id(admin_user, client_for):
    patient = make_patient()
    same_time = make_interactions(patient, 3, step_seconds=0)
    later = make_interactions(patient, 1, start=BASE_TIME + datetime.timedelta(hours=1))

    body = client_for(admin_user).get(url(patient)).json()

    ids = [row["id"] for row in body["results"]]
    assert ids == [later[0].pk] + sorted((row.pk for row in same_time), reverse=True)


def test_list_returns_the_interaction_representation(admin_user, clinician, client_for):
    patient = make_patient(primary=clinician)
    twin = make_twin(patient)
    row = make_interactions(patient, 1, twin=twin, actor=clinician, kind="note")[0]
    row.refresh_from_db()

    result = client_for(admin_user).get(url(patient)).json()["results"][0]

    assert result == {
        "id": row.pk,
        "patient": str(patient.pk),
        "twin": str(twin.pk),
        "actor": str(clinician.pk),
        "kind": "note",
        "payload": {"n": 0},
        "occurred_at": "2026-01-01T12:00:00Z",
        "recorded_at": row.recorded_at.isoformat().replace("+00:00", "Z"),
    }


def test_pages_walk_the_whole_log_without_gaps_or_repeats(admin_user, client_for):
    patient = make_patient()
    rows = make_interactions(patient, 7, step_seconds=0) + make_interactions(patient, 5)
    client = client_for(admin_user)

    seen, next_url = [], url(patient) + "?page_size=3"
    while next_url:
        body = client.get(next_url).json()
        seen += [row["id"] for row in body["results"]]
        next_url = body["next"]

    assert sorted(seen) == sorted(row.pk for row in rows)
    assert len(seen) == len(set(seen))


def test_filters_by_kind_twin_and_time_window(admin_user, client_for):
    patient = make_patient()
    twin = make_twin(patient)
    make_interactions(patient, 3, kind="note")
    with_twin = make_interactions(patient, 2, kind="alert", twin=twin, start=BASE_TIME + datetime.timedelta(days=1))
    client = client_for(admin_user)

    by_kind = client.get(url(patient), {"kind": "alert"}).json()["results"]
    by_twin = client.get(url(patient), {"twin": str(twin.pk)}).json()["results"]
    window = client.get(url(patient), {"since": "2026-01-01T12:01:00Z", "until": "2026-01-02T12:00:00+00:00"}).json()[
        "results"
    ]

    assert {row["id"] for row in by_kind} == {row.pk for row in with_twin}
    assert {row["id"] for row in by_twin} == {row.pk for row in with_twin}
    # since is inclusive (12:01 and 12:02 notes), until exclusive (the alert at exactly 12:00 next day is out).
    assert [row["occurred_at"] for row in window] == ["2026-01-01T12:02:00Z", "2026-01-01T12:01:00Z"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "gossip"}, "kind"),
        ({"twin": "not-a-uuid"}, "twin"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"colour": "blue"}, "colour"),
        ({"page_size": "201"}, "page_size"),
        ({"cursor": "garbage"}, "cursor"),
    ],
)
def test_bad_query_parameters_are_400(admin_user, client_for, params, field):
    patient = make_patient()

    response = client_for(admin_user).get(url(patient), params)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]


def test_a_list_writes_one_list_event_for_the_patient(clinician, client_for):
    patient = make_patient(primary=clinician)
    make_interactions(patient, 3)

    client_for(clinician).get(url(patient))

    events = list(AuditEvent.objects.filter(action="list", resource_type="interaction"))
    assert [(e.patient_id, e.actor_id, e.break_glass) for e in events] == [(patient.pk, clinician.pk, False)]


def test_a_break_glass_list_is_audited_as_break_glass(world, client_for):
    client_for(world.users["break_glass"]).get(url(world.patient))

    event = AuditEvent.objects.get(action="list", resource_type="interaction")
    assert event.break_glass is True


@pytest.mark.parametrize("page_size", [5, 200])
def test_list_query_count_does_not_depend_on_page_size(admin_user, client_for, django_assert_num_queries, page_size):
    patient = make_patient()
    twin = make_twin(patient)
    make_interactions(patient, 250, twin=twin, actor=admin_user)
    client = client_for(admin_user)

    # Patient access, the page and the audit event (a read needs no transaction: patients/reads.py).
    with django_assert_num_queries(3):
        response = client.get(url(patient), {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


def test_list_query_uses_the_patient_recent_index(admin_user):
    patient = make_patient()
    make_interactions(patient, 2000)
    make_interactions(make_patient(), 2000)
    queryset = interactions_of(patient.pk, kind="observation").order_by("-occurred_at", "-id")[:51]

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE interactions_interactionlog")  # real statistics, as in production
    plan = queryset.explain()

    # On PostgreSQL the table is partitioned: each month's copy of the index has its own name.
    names = {"interactions_patient_recent"}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            names = index_names(cursor, "interactions_patient_recent")
    used = set(re.findall(r"(?:USING INDEX|Index Scan using|Index Scan Backward using) (\w+)", plan))
    assert used and used <= names, plan
    assert "TEMP B-TREE" not in plan.upper() and "Sort" not in plan  # the index gives the order


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_interactions_cannot_be_changed_or_deleted(admin_user, client_for, method):
    patient = make_patient()
    row = make_interactions(patient, 1)[0]
    client = client_for(admin_user)

    on_collection = getattr(client, method)(url(patient), {}, format="json")
    on_item = getattr(client, method)(f"{url(patient)}{row.pk}/", {}, format="json")

    assert on_collection.status_code == on_item.status_code == 405
    assert on_item["Content-Type"] == "application/problem+json"
    assert InteractionLog.objects.filter(pk=row.pk).exists()
