import json
import tempfile
import time
import tracemalloc
import warnings

import pytest
from asgiref.sync import async_to_sync

from clarity.audit.models import AuditEvent
from patients.models import Patient
from patients.selectors import with_care_team
from patients.serializers import PatientSerializer
from patients.tests.factories import make_patient
from twins.tests.factories import make_twin

from .helpers import insert_interactions_fast, make_interactions

pytestmark = pytest.mark.django_db

EXPORT_ROWS = 200_000
# Measured: a 1.5 MiB peak (tracemalloc) streaming the 43.5 MiB document on SQLite, 1.5 MiB
# on PostgreSQL. The bound leaves room for noise and fails if even a fifth of the body
# could be held in memory.
EXPORT_PEAK_BOUND = 8 * 1024 * 1024


def url(patient):
    return f"/api/v1/patients/{patient.pk}/export/"


def body_of(response) -> dict:
    return json.loads(b"".join(response.streaming_content))


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
        ("break_glass", 403),
    ],
)
def test_export_follows_the_access_rules(world, client_for, who, expected):
    response = client_for(world.users[who]).get(url(world.patient))

    assert response.status_code == expected
    if expected == 200:
        assert response["Content-Type"] == "application/json"
        assert body_of(response)["patient"]["id"] == str(world.patient.pk)
    else:
        assert response["Content-Type"] == "application/problem+json"


def test_export_holds_everything_about_the_patient_in_the_api_representations(clinician, client_for):
    patient = make_patient(primary=clinician, email="p@example.org")
    twin = make_twin(patient, created_by=clinician, revisions=3)
    make_twin(patient, twin_type="biometric")
    make_interactions(patient, 30, twin=twin, actor=clinician, kind="note")
    make_interactions(make_patient(primary=clinician), 5)  # someone else's: not exported
    client = client_for(clinician)

    document = body_of(client.get(url(patient)))

    assert list(document) == ["patient", "care_team", "twins", "interactions", "exported_at"]
    expected_patient = PatientSerializer(with_care_team(Patient.objects.all()).get(pk=patient.pk)).data
    assert document["patient"] == json.loads(json.dumps(expected_patient, default=str))
    assert document["care_team"] == client.get(f"/api/v1/patients/{patient.pk}/care-team/").json()["results"]
    assert [t["twin_type"] for t in document["twins"]] == ["psychiatric", "biometric"]
    first = document["twins"][0]
    assert set(first) == {
        "id",
        "patient",
        "name",
        "twin_type",
        "status",
        "configuration",
        "state",
        "version",
        "created_by",
        "created_at",
        "updated_at",
        "revisions",
    }
    assert (first["id"], first["created_by"]) == (str(twin.pk), str(clinician.pk))
    assert [r["version"] for r in first["revisions"]] == [3, 2, 1]
    assert set(first["revisions"][0]) == {"version", "configuration", "changed_by", "changed_at"}
    listed = client.get(f"/api/v1/patients/{patient.pk}/interactions/", {"page_size": 200}).json()["results"]
    assert document["interactions"] == listed  # same representation, same order (newest first)
    assert document["exported_at"].endswith("Z")


def test_export_of_a_patient_without_data_is_a_valid_document(admin_user, client_for):
    patient = make_patient()

    document = body_of(client_for(admin_user).get(url(patient)))

    assert (document["care_team"], document["twins"], document["interactions"]) == ([], [], [])


def test_export_is_audited_before_the_first_byte(clinician, client_for):
    patient = make_patient(primary=clinician)
    make_interactions(patient, 3)

    response = client_for(clinician).get(url(patient))

    event = AuditEvent.objects.get(action="export")
    assert (event.actor_id, event.patient_id, event.resource_type) == (clinician.pk, patient.pk, "patient")
    body_of(response)


def test_export_refuses_unknown_query_parameters(admin_user, client_for):
    patient = make_patient()

    response = client_for(admin_user).get(url(patient), {"colour": "blue"})

    assert response.status_code == 400


def test_export_streams_chunk_by_chunk_when_served_asynchronously(admin_user, client_for):
    patient = make_patient()
    make_interactions(patient, 2500)
    response = client_for(admin_user).get(url(patient))

    async def consume():
        return [chunk async for chunk in response]

    with warnings.catch_warnings():
        # Django warns when ASGI has to collect a sync iterator into one list first.
        warnings.simplefilter("error")
        chunks = async_to_sync(consume)()

    assert len(chunks) == 5  # head, three chunks of ≤ 1,000 rows, tail
    assert len(json.loads(b"".join(chunks))["interactions"]) == 2500


def test_export_of_200000_interactions_streams_in_bounded_memory(admin_user, client_for):
    patient = make_patient()
    insert_interactions_fast(patient, EXPORT_ROWS)
    response = client_for(admin_user).get(url(patient))

    with tempfile.TemporaryFile() as sink:
        tracemalloc.start()
        started = time.perf_counter()
        try:
            for chunk in response.streaming_content:
                sink.write(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        seconds = time.perf_counter() - started
        size = sink.tell()
        sink.seek(0)
        document = json.load(sink)

    assert peak < EXPORT_PEAK_BOUND, f"{size} bytes streamed in {seconds:.1f} s with a peak of {peak} bytes"
    assert len(document["interactions"]) == EXPORT_ROWS
    assert document["interactions"][0]["payload"] == {"n": EXPORT_ROWS, "note": "steady"}
