"""Interaction-log invariants: refused by the database, reported by full_clean(); rows are append-only."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clarity.tests.helpers import validation_messages
from clarity.users.tests.factories import UserFactory
from interactions.models import IdempotencyRecord, InteractionLog
from interactions.payloads import MAX_PAYLOAD_BYTES
from interactions.tests.factories import InteractionLogFactory
from patients.tests.factories import PatientFactory
from twins.tests.factories import DigitalTwinFactory

pytestmark = pytest.mark.django_db

APPEND_ONLY = "interactions_interactionlog is append-only"


def entry(**overrides):
    values = {"kind": "note", "payload": {"text": "x"}, "occurred_at": timezone.now()}
    values.update(overrides)
    if "patient" not in values:
        values["patient"] = values["twin"].patient if values.get("twin") else PatientFactory()
    return values


def oversized_payload():
    # Just over 64 KiB of JSON however the database serialises it (with or without spaces).
    return {"text": "x" * MAX_PAYLOAD_BYTES}


# --- The database ------------------------------------------------------------------------


def test_kind_outside_the_set_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="interactions_interactionlog_kind_valid"), transaction.atomic():
        InteractionLog.objects.create(**entry(kind="gossip"))


def test_an_entry_for_another_patients_twin_is_refused_by_the_database():
    twin = DigitalTwinFactory()
    with pytest.raises(IntegrityError, match="interactions_interactionlog_twin_same_patient"), transaction.atomic():
        InteractionLog.objects.create(**entry(twin=twin, patient=PatientFactory()))


def test_an_entry_for_the_patients_own_twin_is_accepted():
    twin = DigitalTwinFactory()

    InteractionLog.objects.create(**entry(twin=twin))

    assert twin.interactions.count() == 1


def test_a_payload_that_is_not_an_object_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="interactions_interactionlog_payload_object"), transaction.atomic():
        InteractionLog.objects.create(**entry(payload=["x"]))


def test_a_payload_over_64_kib_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="interactions_interactionlog_payload_object"), transaction.atomic():
        InteractionLog.objects.bulk_create([InteractionLog(**entry(payload=oversized_payload()))])


def test_a_payload_just_under_64_kib_is_accepted():
    InteractionLog.objects.create(**entry(payload={"text": "x" * (MAX_PAYLOAD_BYTES - 100)}))

    assert InteractionLog.objects.count() == 1


# No unique (actor, idempotency_key) on the log: on PostgreSQL it is partitioned by month and
# a unique index would have to include occurred_at. Exactly-once is IdempotencyRecord's unique
# (actor, key) below, written in the same transaction (test_idempotency.py races it).


def test_entries_without_idempotency_keys_and_keys_of_other_actors_are_accepted():
    actor = UserFactory()
    InteractionLogFactory(actor=actor, idempotency_key="abc:0")

    InteractionLog.objects.bulk_create(
        [
            InteractionLog(**entry(actor=actor)),
            InteractionLog(**entry(actor=actor)),
            InteractionLog(**entry(actor=UserFactory(), idempotency_key="abc:0")),
        ]
    )

    assert InteractionLog.objects.count() == 4


def test_a_reused_idempotency_record_key_for_the_same_actor_is_refused_by_the_database():
    actor = UserFactory()
    record = {
        "actor": actor,
        "key": "abc",
        "request_fingerprint": "f" * 64,
        "response_status": 201,
        "response_body": {},
    }
    IdempotencyRecord.objects.create(**record)
    with (
        pytest.raises(
            IntegrityError, match=r"interactions_idempotencyrecord_unique_key|interactions_idempotencyrecord\.actor_id"
        ),
        transaction.atomic(),
    ):
        IdempotencyRecord.objects.create(**record)

    with pytest.raises(ValidationError, match="Actor and Key"):
        IdempotencyRecord(**record).full_clean()


# --- full_clean() ------------------------------------------------------------------------------


def test_full_clean_accepts_the_payload_of_each_kind():
    patient = PatientFactory()
    for kind, payload in [
        ("message", {"text": "Slept badly again."}),
        ("assessment", {"instrument": "PHQ-9", "score": 27}),
        ("assessment", {"instrument": "GAD-7", "score": 0}),
        ("observation", {}),
        ("prediction", {"risk_relapse": 0.2}),
        ("alert", {"level": "high"}),
        ("note", {"text": "x"}),
    ]:
        InteractionLog(**entry(patient=patient, kind=kind, payload=payload)).full_clean()


def test_full_clean_reports_a_kind_outside_the_set():
    assert "kind" in validation_messages(InteractionLog(**entry(kind="gossip")))


def test_full_clean_reports_an_entry_for_another_patients_twin():
    errors = validation_messages(InteractionLog(**entry(twin=DigitalTwinFactory(), patient=PatientFactory())))
    assert errors["twin"] == ["The twin must belong to the same patient."]


def test_full_clean_reports_a_payload_that_is_not_an_object():
    errors = validation_messages(InteractionLog(**entry(payload=["x"])))
    assert errors["payload"] == ["payload: Must be a JSON object."]


def test_full_clean_reports_a_payload_over_64_kib():
    errors = validation_messages(InteractionLog(**entry(payload=oversized_payload())))
    assert errors["payload"] == [f"payload: Must be at most {MAX_PAYLOAD_BYTES} bytes of JSON."]


def test_full_clean_reports_payloads_breaking_the_rules_of_their_kind():
    message = validation_messages(InteractionLog(**entry(kind="message", payload={"text": ""})))
    phq9 = validation_messages(InteractionLog(**entry(kind="assessment", payload={"instrument": "PHQ-9", "score": 28})))
    gad7 = validation_messages(InteractionLog(**entry(kind="assessment", payload={"instrument": "GAD-7", "score": 22})))

    assert message["payload"] == ["payload.text: Must be a string of 1 to 10000 characters."]
    assert phq9["payload"] == ["payload.score: PHQ-9 score must be from 0 to 27."]
    assert gad7["payload"] == ["payload.score: GAD-7 score must be from 0 to 21."]


def test_full_clean_accepts_a_second_entry_without_an_idempotency_key():
    first = InteractionLogFactory(actor=UserFactory())
    InteractionLog(**entry(actor=first.actor)).full_clean()


# --- Append-only -------------------------------------------------------------------------------


def test_saving_a_changed_entry_is_refused_by_the_database():
    log = InteractionLogFactory()
    log.payload = {"text": "rewritten"}
    with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic():
        log.save()


def test_updating_entries_in_bulk_is_refused_by_the_database():
    InteractionLogFactory()
    with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic():
        InteractionLog.objects.update(kind="alert")


def test_deleting_an_entry_is_refused_by_the_database():
    log = InteractionLogFactory()
    with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic():
        log.delete()


def test_deleting_entries_in_bulk_is_refused_by_the_database():
    InteractionLogFactory()
    with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic():
        InteractionLog.objects.all().delete()
    assert InteractionLog.objects.count() == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "x" * (MAX_PAYLOAD_BYTES - 12)},  # exactly at the limit: {"text": "…"} is 12 more
        {"text": "x" * (MAX_PAYLOAD_BYTES - 11)},  # one byte over
        {"text": "é" * 10_923},  # 2 bytes in UTF-8, 6 as the stdlib writes it: 65,550 bytes
        {"text": "é" * 10_920},
        {"text": "😀" * 5_461},  # 12 bytes each as a surrogate pair escape
        {f"k{n}": n for n in range(6_000)},  # separators with their spaces
        {"f": [1e16] * 10_900},
        {"big": 2**70, "text": "y" * 60_000},  # beyond orjson's integers
        {"small": [1.5, None, True, "s"]},
    ],
)
def test_the_quick_size_check_agrees_with_the_measure(payload):
    from interactions.payloads import payload_size, payload_too_large

    assert payload_too_large(payload) == (payload_size(payload) > MAX_PAYLOAD_BYTES)
