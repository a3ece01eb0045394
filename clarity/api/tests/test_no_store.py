"""Every API endpoint answers with `Cache-Control: no-store` and `Pragma: no-cache`: its
responses carry PHI or a credential (RFC 6749 §5.1 for the token), and no browser, proxy
or CDN may keep a copy. The walk covers every operation in the OpenAPI document, so an
endpoint added later is checked without touching this test."""

import json
import re

import pytest
from rest_framework.test import APIClient

from clarity.api.tests.helpers import bearer_client
from clarity.research import services as research_services
from clarity.users.tests.factories import TEST_PASSWORD
from patients.tests.factories import make_patient
from twins.tests.factories import DigitalTwinFactory


def _assert_no_store(response, label):
    assert response.get("Cache-Control") == "no-store", f"{label}: Cache-Control {response.get('Cache-Control')!r}"
    assert response.get("Pragma") == "no-cache", f"{label}: Pragma {response.get('Pragma')!r}"


@pytest.fixture
def operations(db):
    schema = json.loads(APIClient().get("/api/schema/", {"format": "json"}).content)
    found = [
        (path, method)
        for path, ops in schema["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    ]
    # Deletes and logout last, so the calls before them find their records and tokens.
    return sorted(found, key=lambda op: op[1] == "delete" or op[0].endswith("/logout/"))


def test_every_api_operation_in_the_schema_answers_no_store(
    operations, admin_user, clinician, other_clinician, researcher
):
    patient = make_patient(primary=clinician, consulting=[other_clinician])
    twin = DigitalTwinFactory(patient=patient, created_by=clinician)
    ctx = research_services.AuditContext(actor=admin_user)
    dataset = research_services.dataset_create(
        actor=admin_user,
        data={"name": "Mood", "purpose": "Study", "researchers": [researcher.pk], "interaction_kinds": ["assessment"]},
        ctx=ctx,
    )
    research_services.dataset_build(dataset_id=dataset.pk, actor=admin_user, ctx=ctx)
    ids = {"/api/v1/twins/": twin.pk, "/api/v1/research/": dataset.pk}
    clients = {
        "clinician": bearer_client(clinician),
        "admin": bearer_client(admin_user),
        "researcher": bearer_client(researcher),
    }
    successes = set()
    assert len(operations) >= 20

    for path, method in operations:
        url = path.replace("{clinician_id}", str(other_clinician.pk))
        target = next((pk for prefix, pk in ids.items() if path.startswith(prefix)), patient.pk)
        url = url.replace("{id}", str(target))
        for who, client in clients.items():
            if method == "get":
                response = client.get(url)
            else:
                response = client.generic(method.upper(), url, "{}", content_type="application/json")
            if method == "get" and response.status_code == 200:
                successes.add(path)
            if response.streaming:
                b"".join(response.streaming_content)
            _assert_no_store(response, f"{who} {method.upper()} {url} → {response.status_code}")

    # The PHI-carrying reads were really served (not only refused) and still said no-store.
    assert {p for p, m in operations if m == "get"} <= successes


def test_the_token_response_and_unauthenticated_errors_are_no_store(clinician):
    granted = APIClient().post(
        "/api/v1/auth/token/", {"username": clinician.username, "password": TEST_PASSWORD}, format="json"
    )
    refused = APIClient().get("/api/v1/patients/")
    missing = APIClient().get("/api/v1/no-such-thing/")

    assert granted.status_code == 200 and "token" in json.loads(granted.content)
    for label, response in (("token", granted), ("401", refused), ("404", missing)):
        _assert_no_store(response, label)


def test_the_export_stream_is_no_store(clinician):
    patient = make_patient(primary=clinician)

    response = bearer_client(clinician).get(f"/api/v1/patients/{patient.pk}/export/")

    assert response.status_code == 200 and response.streaming
    _assert_no_store(response, "export")
    json.loads(b"".join(response.streaming_content))


def test_health_and_schema_are_not_forced_to_no_store(db):
    # No PHI there: the rule is for the API, not every response the server sends.
    assert not re.search("no-store", APIClient().get("/health/live/").get("Cache-Control", ""))
