"""Bodies that will be refused cost little: role before parsing, counts before validation,
capped error bodies (issue #15, item 3). Sizes and call counts, not timings, so the tests
are not flaky on a busy machine."""

import orjson
import pytest

from clarity.api import parsers
from clarity.api.errors import MAX_ERRORS
from clarity.api.tests.helpers import assert_problem, bearer_client
from clarity.users.tests.factories import UserFactory
from interactions.models import InteractionLog
from interactions.serializers import MAX_BATCH, InteractionCreateSerializer
from patients.models import Patient
from patients.tests.factories import make_patient
from twins.models import DigitalTwin


@pytest.fixture
def calls(monkeypatch):
    """Counts calls of the expensive steps a cheap refusal must skip."""
    counted = {"parse": 0, "item": 0}

    def counting(name, original):
        def wrapper(*args, **kwargs):
            counted[name] += 1
            return original(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(parsers.StrictJSONParser, "parse", counting("parse", parsers.StrictJSONParser.parse))
    monkeypatch.setattr(
        InteractionCreateSerializer,
        "to_internal_value",
        counting("item", InteractionCreateSerializer.to_internal_value),
    )
    return counted


def _post(client, path, raw: bytes):
    return client.generic("POST", path, raw, content_type="application/json")


def test_a_researcher_posting_1_5_million_empty_objects_is_refused_by_role_without_a_parse(db, calls):
    patient = make_patient(primary=UserFactory(role="clinician"))
    body = b"[" + b",".join([b"{}"] * 1_500_000) + b"]"

    response = _post(
        bearer_client(UserFactory(role="researcher")), f"/api/v1/patients/{patient.pk}/interactions/", body
    )

    assert_problem(response, 403)
    assert calls["parse"] == 0


def test_a_clinician_posting_1_5_million_empty_objects_gets_a_small_400_before_any_walk_or_validation(db, calls):
    clinician = UserFactory(role="clinician")
    patient = make_patient(primary=clinician)
    body = b"[" + b",".join([b"{}"] * 1_500_000) + b"]"

    response = _post(bearer_client(clinician), f"/api/v1/patients/{patient.pk}/interactions/", body)

    problem = assert_problem(response, 400)
    assert len(response.content) < 1024
    # The parser counted the top level and stopped: the items were never walked nor validated.
    assert "top level" in problem["detail"]
    assert calls["parse"] == 1 and calls["item"] == 0
    assert not InteractionLog.objects.exists()


def test_the_top_level_count_comes_before_the_walk_of_the_items():
    # An item the walk would refuse (a NUL) is never reached: the count refuses first.
    body = [{"text": "\x00"}] + [{}] * parsers.MAX_TOP_LEVEL_ITEMS

    with pytest.raises(parsers.BodyRejected) as refused:
        parsers.check_structure(body)

    assert "top level" in str(refused.value.detail)
    assert "NUL" not in str(refused.value.detail)


def test_100000_unknown_top_level_keys_get_a_small_400(db, calls):
    clinician = UserFactory(role="clinician")
    body = orjson.dumps({f"k{i}": "" for i in range(100_000)})

    response = _post(bearer_client(clinician), "/api/v1/patients/", body)

    assert "top level" in assert_problem(response, 400)["detail"]
    assert len(response.content) < 1024
    assert not Patient.objects.exists()


def test_thousands_of_unknown_keys_name_at_most_100_and_count_them(db):
    clinician = UserFactory(role="clinician")
    body = orjson.dumps({f"k{i}": "" for i in range(5_000)})

    response = _post(bearer_client(clinician), "/api/v1/patients/", body)

    problem = assert_problem(response, 400)
    assert len(problem["errors"]) <= MAX_ERRORS + 1
    assert "5000 unknown fields" in problem["errors"]["body"][0]
    assert len(response.content) < 16 * 1024


def test_a_twin_configuration_with_100000_keys_gets_a_small_400(db):
    clinician = UserFactory(role="clinician")
    patient = make_patient(primary=clinician)
    body = orjson.dumps({"name": "T", "twin_type": "biometric", "configuration": {f"k{i}": 1 for i in range(100_000)}})

    response = _post(bearer_client(clinician), f"/api/v1/patients/{patient.pk}/twins/", body)

    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == ["configuration"]
    assert len(response.content) < 1024
    assert not DigitalTwin.objects.exists()


def test_alert_thresholds_with_many_keys_get_one_error():
    from twins.configuration import validate_configuration

    errors = validate_configuration({"alert_thresholds": {f"k{i}": 1 for i in range(10_000)}})

    assert list(errors) == ["configuration.alert_thresholds"]


def test_the_batch_length_is_checked_before_any_item_is_validated(db, calls):
    clinician = UserFactory(role="clinician")
    patient = make_patient(primary=clinician)
    body = orjson.dumps([{"kind": "nonsense"}] * (MAX_BATCH + 1))

    response = _post(bearer_client(clinician), f"/api/v1/patients/{patient.pk}/interactions/", body)

    assert assert_problem(response, 400)["errors"] == {"body": [f"Send 1 to {MAX_BATCH} interactions."]}
    assert calls["item"] == 0


def test_a_batch_of_1000_bad_items_gets_a_capped_error_body_with_the_full_count(db):
    clinician = UserFactory(role="clinician")
    patient = make_patient(primary=clinician)
    body = orjson.dumps([{"kind": "nonsense", "payload": {}, "occurred_at": "2026-01-01T00:00:00Z"}] * MAX_BATCH)

    response = _post(bearer_client(clinician), f"/api/v1/patients/{patient.pk}/interactions/", body)

    problem = assert_problem(response, 400)
    assert len(problem["errors"]) == MAX_ERRORS
    assert problem["error_count"] == MAX_BATCH
    assert len(response.content) < 16 * 1024
