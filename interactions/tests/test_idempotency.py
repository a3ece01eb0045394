import datetime
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import httpx
import pytest
from django.utils import timezone

from clarity.audit.models import AuditEvent
from clarity.users.models import ApiToken, hash_token
from clarity.users.tests.factories import UserFactory
from patients.models import CareTeamMembership
from patients.tests.factories import make_patient

from ..models import IdempotencyRecord, InteractionLog
from .helpers import item

pytestmark = pytest.mark.django_db


def url(patient):
    return f"/api/v1/patients/{patient.pk}/interactions/"


def post(client, patient, body, key):
    return client.post(url(patient), body, format="json", headers={"Idempotency-Key": key})


def test_a_retry_with_the_same_key_and_body_replays_the_response_and_creates_nothing(clinician, client_for):
    patient = make_patient(primary=clinician)
    client = client_for(clinician)
    batch = [item("message"), item("assessment")]

    first = post(client, patient, batch, "retry-1")
    again = post(client, patient, batch, "retry-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert InteractionLog.objects.count() == 2
    assert IdempotencyRecord.objects.get().key == "retry-1"
    assert sorted(InteractionLog.objects.values_list("idempotency_key", flat=True)) == ["retry-1:0", "retry-1:1"]


def test_a_replay_is_audited_as_a_read(clinician, client_for):
    patient = make_patient(primary=clinician)
    client = client_for(clinician)
    created = post(client, patient, item("note"), "audit-me").json()

    post(client, patient, item("note"), "audit-me")

    read = AuditEvent.objects.get(action="read", resource_type="interaction")
    assert (read.resource_id, read.patient_id) == (str(created["id"]), patient.pk)


def test_a_batch_replay_is_audited_as_a_read_naming_its_rows(clinician, client_for):
    patient = make_patient(primary=clinician)
    client = client_for(clinician)
    created = post(client, patient, [item("note"), item("note")], "audit-batch").json()

    post(client, patient, [item("note"), item("note")], "audit-batch")

    read = AuditEvent.objects.get(action="read", resource_type="interaction")
    ids = sorted(row["id"] for row in created)
    assert (read.resource_id, read.patient_id) == (f"{ids[0]}-{ids[1]}", patient.pk)


def test_the_same_key_with_a_different_body_is_422(clinician, client_for):
    patient = make_patient(primary=clinician)
    client = client_for(clinician)
    post(client, patient, item("message"), "k-1")

    response = post(client, patient, item("message", payload={"text": "Something else"}), "k-1")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert InteractionLog.objects.count() == 1


def test_the_same_key_and_body_for_another_patient_is_422(clinician, client_for):
    first_patient = make_patient(primary=clinician)
    second_patient = make_patient(primary=clinician)
    client = client_for(clinician)
    post(client, first_patient, item("message"), "k-2")

    response = post(client, second_patient, item("message"), "k-2")

    assert response.status_code == 422
    assert not InteractionLog.objects.filter(patient=second_patient).exists()


def test_keys_belong_to_one_caller(clinician, client_for):
    colleague = UserFactory(role="clinician")
    patient = make_patient(primary=clinician, consulting=[colleague])

    mine = post(client_for(clinician), patient, item("message"), "shared-key")
    theirs = post(client_for(colleague), patient, item("message"), "shared-key")

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert InteractionLog.objects.count() == 2


def test_a_refused_request_does_not_use_up_its_key(clinician, client_for):
    patient = make_patient(primary=clinician)
    client = client_for(clinician)

    bad = post(client, patient, item("assessment", payload={"instrument": "PHQ-9", "score": 99}), "k-3")
    good = post(client, patient, item("assessment"), "k-3")

    assert (bad.status_code, good.status_code) == (400, 201)


def test_a_replay_still_requires_access_to_the_patient(clinician, client_for):
    colleague = UserFactory(role="clinician")
    patient = make_patient(primary=clinician, consulting=[colleague])
    client = client_for(colleague)
    post(client, patient, item("note"), "k-4")
    CareTeamMembership.objects.filter(clinician=colleague).delete()

    response = post(client, patient, item("note"), "k-4")

    assert response.status_code == 404


def test_a_structured_field_string_key_is_the_same_key_as_the_bare_token(clinician, client_for):
    patient = make_patient(primary=clinician)
    client = client_for(clinician)

    post(client, patient, item("note"), '"abc-123"')
    post(client, patient, item("note"), "abc-123")

    assert InteractionLog.objects.count() == 1


@pytest.mark.parametrize("key", ["", "   ", '""', "x" * 256, "caf\u00e9"])
def test_an_invalid_key_is_400(clinician, client_for, key):
    patient = make_patient(primary=clinician)

    response = client_for(clinician).post(
        url(patient), item("note"), format="json", headers={"Idempotency-Key": key.encode().decode("latin-1")}
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert InteractionLog.objects.count() == 0


def test_a_key_of_255_characters_is_accepted(clinician, client_for):
    patient = make_patient(primary=clinician)

    response = post(client_for(clinician), patient, [item("note")] * 3, "k" * 255)

    assert response.status_code == 201
    assert InteractionLog.objects.filter(idempotency_key=f"{'k' * 255}:2").exists()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_key_create_exactly_one_row_set(live_server):
    clinician = UserFactory(role="clinician")
    patient = make_patient(primary=clinician)
    raw = ApiToken.generate_raw()
    ApiToken.objects.create(
        user=clinician, key_hash=hash_token(raw), expires_at=timezone.now() + datetime.timedelta(hours=1)
    )
    body = [item("message", payload={"text": f"retry {index}"}) for index in range(20)]
    attempts = 10
    start = Barrier(attempts)

    def attempt(_):
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            start.wait()
            return client.post(
                url(patient), json=body, headers={"Authorization": f"Bearer {raw}", "Idempotency-Key": "storm"}
            )

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        responses = list(pool.map(attempt, range(attempts)))

    assert [r.status_code for r in responses] == [201] * attempts
    assert all(r.json() == responses[0].json() for r in responses)
    assert InteractionLog.objects.count() == 20
    assert IdempotencyRecord.objects.count() == 1
    assert sorted(row["id"] for row in responses[0].json()) == sorted(
        InteractionLog.objects.values_list("id", flat=True)
    )
