import pytest

from clarity.audit.models import AuditEvent
from patients.tests.factories import make_patient
from twins.tests.factories import make_twin

from ..models import InteractionLog
from .helpers import item

pytestmark = pytest.mark.django_db


def url(patient):
    return f"/api/v1/patients/{patient.pk}/interactions/"


def post(client, patient, body, **headers):
    return client.post(url(patient), body, format="json", headers=headers)


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", 401),
        ("researcher", 403),
        ("patient_own", 201),
        ("patient_other", 404),
        ("primary", 201),
        ("consulting", 201),
        ("not_on_team", 404),
        ("admin", 201),
        ("break_glass", 403),
    ],
)
def test_creating_an_interaction_follows_the_access_rules(world, client_for, who, expected):
    response = post(client_for(world.users[who]), world.patient, item("message"))

    assert response.status_code == expected
    assert InteractionLog.objects.count() == (1 if expected == 201 else 0)


@pytest.mark.parametrize("kind", ["observation", "prediction", "alert", "note"])
def test_a_patient_may_not_post_other_kinds_than_message_and_assessment(world, client_for, kind):
    client = client_for(world.users["patient_own"])

    alone = post(client, world.patient, item(kind))
    in_batch = post(client, world.patient, [item("message"), item(kind)])

    assert alone.status_code == in_batch.status_code == 403
    assert InteractionLog.objects.count() == 0
    assert AuditEvent.objects.filter(action="denied", patient_id=world.patient.pk).count() == 2


def test_a_patient_may_post_messages_and_assessments(world, client_for):
    response = post(client_for(world.users["patient_own"]), world.patient, [item("message"), item("assessment")])

    assert response.status_code == 201
    assert [row["actor"] for row in response.json()] == [str(world.users["patient_own"].pk)] * 2


def test_one_object_gets_201_with_its_representation(clinician, client_for):
    patient = make_patient(primary=clinician)
    twin = make_twin(patient)

    response = post(
        client_for(clinician),
        patient,
        item(
            "assessment",
            payload={"instrument": "GAD-7", "score": 21},
            occurred_at="2026-02-01T10:00:00+01:00",
            twin=str(twin.pk),
        ),
    )

    assert response.status_code == 201
    body = response.json()
    row = InteractionLog.objects.get()
    assert body == {
        "id": row.pk,
        "patient": str(patient.pk),
        "twin": str(twin.pk),
        "actor": str(clinician.pk),
        "kind": "assessment",
        "payload": {"instrument": "GAD-7", "score": 21},
        "occurred_at": "2026-02-01T09:00:00Z",
        "recorded_at": row.recorded_at.isoformat().replace("+00:00", "Z"),
    }


def test_a_batch_response_equals_what_the_list_then_shows(clinician, client_for):
    patient = make_patient(primary=clinician)
    client = client_for(clinician)
    batch = [item("note", payload={"i": index}, occurred_at=f"2026-02-01T10:00:{index:02d}Z") for index in range(5)]

    created = post(client, patient, batch).json()
    listed = client.get(url(patient)).json()["results"]

    assert created == list(reversed(listed))  # ids and database-clock recorded_at included
    assert [row["payload"] for row in created] == [{"i": index} for index in range(5)]


def test_a_batch_of_1000_is_stored_and_1001_is_refused(clinician, client_for):
    patient = make_patient(primary=clinician)
    client = client_for(clinician)

    ok = post(client, patient, [item("note", payload={"i": index}) for index in range(1000)])
    too_many = post(client, patient, [item("note") for _ in range(1001)])

    assert ok.status_code == 201 and len(ok.json()) == 1000
    assert too_many.status_code == 400 and "body" in too_many.json()["errors"]
    assert InteractionLog.objects.count() == 1000


def test_an_empty_batch_is_refused(clinician, client_for):
    patient = make_patient(primary=clinician)

    response = post(client_for(clinician), patient, [])

    assert response.status_code == 400
    assert "body" in response.json()["errors"]


def test_one_bad_item_at_the_end_of_a_batch_stores_nothing(clinician, client_for):
    patient = make_patient(primary=clinician)
    batch = [item("message") for _ in range(1000)]
    batch[999] = item("assessment", payload={"instrument": "PHQ-9", "score": 28})

    response = post(client_for(clinician), patient, batch)

    assert response.status_code == 400
    assert response.json()["errors"] == {"999.payload.score": ["PHQ-9 score must be from 0 to 27."]}
    assert InteractionLog.objects.count() == 0
    assert not AuditEvent.objects.filter(action="create").exists()


BAD_ITEMS = [
    (item("assessment", payload={"instrument": "PHQ-9", "score": 28}), "payload.score"),
    (item("assessment", payload={"instrument": "PHQ-9", "score": -1}), "payload.score"),
    (item("assessment", payload={"instrument": "GAD-7", "score": 22}), "payload.score"),
    (item("assessment", payload={"instrument": "GAD-7", "score": 3.5}), "payload.score"),
    (item("assessment", payload={"instrument": "GAD-7", "score": True}), "payload.score"),
    (item("assessment", payload={"instrument": "BDI", "score": 3}), "payload.instrument"),
    (item("assessment", payload={"instrument": "PHQ-9", "score": 3, "extra": 1}), "payload.extra"),
    (item("message", payload={"text": ""}), "payload.text"),
    (item("message", payload={"text": "x" * 10001}), "payload.text"),
    (item("message", payload={"text": 42}), "payload.text"),
    (item("message", payload={}), "payload.text"),
    (item("note", payload={"blob": "x" * (64 * 1024)}), "payload"),
    (item("note", payload=["not", "an", "object"]), "payload"),
    (item("note", payload="text"), "payload"),
    (item("gossip"), "kind"),
    (item("note", occurred_at="2026-02-01T09:00:00"), "occurred_at"),
    (item("note", occurred_at="last tuesday"), "occurred_at"),
    (item("note", occurred_at=1767225600), "occurred_at"),
    (item("note", twin="not-a-uuid"), "twin"),
    ({"payload": {}, "occurred_at": "2026-02-01T09:00:00Z"}, "kind"),
    ({**item("note"), "recorded_at": "2026-02-01T09:00:00Z"}, "recorded_at"),
    ({**item("note"), "id": 7}, "id"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_ITEMS)
def test_every_payload_rule_is_400_keyed_by_item_and_stores_nothing(clinician, client_for, bad, field):
    patient = make_patient(primary=clinician)
    client = client_for(clinician)

    alone = post(client, patient, bad)
    third = post(client, patient, [item("message"), item("message"), item("message"), bad])

    assert alone.status_code == third.status_code == 400
    assert alone["Content-Type"] == "application/problem+json"
    assert list(alone.json()["errors"]) == [field]
    assert list(third.json()["errors"]) == [f"3.{field}"]
    assert InteractionLog.objects.count() == 0


def test_messages_of_exactly_1_and_10000_characters_are_accepted(clinician, client_for):
    patient = make_patient(primary=clinician)

    response = post(
        client_for(clinician),
        patient,
        [item("message", payload={"text": "x"}), item("message", payload={"text": "x" * 10000})],
    )

    assert response.status_code == 201


def test_assessment_bounds_are_inclusive(clinician, client_for):
    patient = make_patient(primary=clinician)
    bounds = [("PHQ-9", 0), ("PHQ-9", 27), ("GAD-7", 0), ("GAD-7", 21)]

    response = post(
        client_for(clinician), patient, [item("assessment", payload={"instrument": i, "score": s}) for i, s in bounds]
    )

    assert response.status_code == 201


def test_errors_do_not_echo_the_submitted_values(clinician, client_for):
    patient = make_patient(primary=clinician)

    response = post(client_for(clinician), patient, item("SECRET-KIND", payload={"text": "SECRET"}))

    assert "SECRET" not in response.content.decode()


def test_a_twin_of_another_patient_is_400_and_stores_nothing(clinician, client_for):
    patient = make_patient(primary=clinician)
    own_twin = make_twin(patient)
    foreign_twin = make_twin(make_patient(primary=clinician))
    client = client_for(clinician)

    alone = post(client, patient, item("note", twin=str(foreign_twin.pk)))
    batch = post(client, patient, [item("note", twin=str(own_twin.pk)), item("note", twin=str(foreign_twin.pk))])

    assert alone.status_code == batch.status_code == 400
    assert alone.json()["errors"] == {"twin": ["No such twin for this patient."]}
    assert batch.json()["errors"] == {"1.twin": ["No such twin for this patient."]}
    assert InteractionLog.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"{not json", "application/json", 400),
        (b'"just a string"', "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"kind=note", "application/x-www-form-urlencoded", 415),
    ],
)
def test_malformed_bodies_are_refused(clinician, client_for, body, content_type, expected):
    patient = make_patient(primary=clinician)

    response = client_for(clinician).generic("POST", url(patient), body, content_type=content_type)

    assert response.status_code == expected
    assert InteractionLog.objects.count() == 0


def test_a_create_writes_one_audit_event_naming_the_row_or_the_batch(clinician, client_for):
    patient = make_patient(primary=clinician)
    client = client_for(clinician)

    one = post(client, patient, item("note")).json()
    batch = post(client, patient, [item("note"), item("note"), item("note")]).json()

    events = AuditEvent.objects.filter(action="create", resource_type="interaction").order_by("id")
    ids = sorted(row["id"] for row in batch)
    assert [(e.resource_id, e.patient_id, e.actor_id) for e in events] == [
        (str(one["id"]), patient.pk, clinician.pk),
        (f"{ids[0]}-{ids[-1]}", patient.pk, clinician.pk),
    ]
    # The batch's rows are exactly the ones its event names.
    low, high = (int(part) for part in events[1].resource_id.split("-"))
    assert set(InteractionLog.objects.filter(id__gte=low, id__lte=high).values_list("id", flat=True)) == set(ids)


def test_batch_ids_are_written_as_ranges():
    from interactions.services import id_ranges

    assert id_ranges([7]) == "7"
    assert id_ranges([5, 3, 4, 9, 10, 12]) == "3-5,9-10,12"


def test_a_batch_whose_ids_are_too_fragmented_for_one_event_gets_one_event_per_row(clinician):
    from clarity.audit.services import AuditContext
    from interactions.services import _audit

    patient = make_patient(primary=clinician)
    ids = list(range(1, 200, 2))  # 100 single ids: far over 64 characters as ranges

    _audit(AuditContext(actor=clinician), "create", patient.pk, ids)

    events = AuditEvent.objects.filter(action="create", resource_type="interaction")
    assert sorted(int(e.resource_id) for e in events) == ids
    assert {e.patient_id for e in events} == {patient.pk}


@pytest.mark.parametrize("size", [1, 1000])
def test_batch_create_query_count_does_not_depend_on_batch_size(clinician, client_for, django_assert_num_queries, size):
    patient = make_patient(primary=clinician)
    twin = make_twin(patient)
    client = client_for(clinician)
    batch = [item("note", twin=str(twin.pk)) for _ in range(size)]

    # Patient access, twin check, rows, audit events, idempotency lookup and record,
    # and the savepoint pair around them.
    with django_assert_num_queries(8):
        response = post(client, patient, batch, **{"Idempotency-Key": f"batch-{size}"})

    assert response.status_code == 201


@pytest.mark.postgres_only
def test_a_payload_over_the_limit_as_postgresql_stores_it_is_a_400_that_says_so(world, client_for):
    # 300 numbers of 1e300: 2.4 KB as JSON, 90 KB in jsonb's text, which writes every digit
    body = [item("observation"), {**item("observation"), "payload": {"v": [1e300] * 300}}]

    response = post(client_for(world.users["primary"]), world.patient, body)

    assert response.status_code == 400, response.content
    assert response.json()["errors"]["payload"] == ["Must be at most 65536 bytes of JSON as the database stores it."]
    assert InteractionLog.objects.count() == 0
