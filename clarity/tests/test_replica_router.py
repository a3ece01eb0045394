"""The replica router's rules (clarity/replicas.py) on the ordinary suite's mirror alias.

`replica` mirrors `default` under test (TEST["MIRROR"]); here it also shares default's
connection, so it sees the test's transaction, and the tests record which alias the
router chose for each model. Real connections to a real streaming replica are exercised in
clarity/tests/replicas/test_streaming_replica.py.
"""

import asyncio

import pytest
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from clarity import replicas
from patients.tests.factories import CareTeamMembershipFactory, PatientFactory

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _one_replica():
    replicas._status.clear()
    mirror = connections["replica"]
    connections["replica"] = connections["default"]
    try:
        with override_settings(REPLICA_ALIASES=["replica"]):
            yield
    finally:
        connections["replica"] = mirror
        replicas._status.clear()


@pytest.fixture(autouse=True)
def reads(monkeypatch):
    """(model label, alias) for every read the router places."""
    placed = []
    original = replicas.ReplicaRouter.db_for_read

    def record(self, model, **hints):
        alias = original(self, model, **hints)
        placed.append((model._meta.label_lower, alias))
        return alias

    monkeypatch.setattr(replicas.ReplicaRouter, "db_for_read", record)
    return placed


@pytest.fixture
def my_patient(clinician):
    patient = PatientFactory()
    CareTeamMembershipFactory(patient=patient, clinician=clinician, role="primary")
    return patient


def run_captured(fn, reads):
    reads.clear()
    with CaptureQueriesContext(connections["default"]) as captured:
        response = fn()
    primary = {label for label, alias in reads if alias == "default"}
    replica = {label for label, alias in reads if alias == "replica"}
    writes = " ".join(
        q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))
    )
    return response, primary, replica, writes


def test_a_read_goes_to_the_replica_and_its_audit_insert_does_not_pin_it(client_for, clinician, my_patient, reads):
    client = client_for(clinician)
    response, primary, replica, writes = run_captured(lambda: client.get(f"/api/v1/patients/{my_patient.pk}/"), reads)
    assert response.status_code == 200
    assert {"patients.patient", "patients.careteammembership"} <= replica
    assert primary == set()
    assert "audit_auditevent" in writes  # the audit insert ran, and did not pin the request
    assert "clarity_primary" not in response.cookies


def test_a_write_request_runs_on_the_primary_and_pins_its_caller(client_for, clinician, my_patient, reads):
    client = client_for(clinician)
    etag = client.get(f"/api/v1/patients/{my_patient.pk}/")["ETag"]
    response, primary, replica, _ = run_captured(
        lambda: client.patch(
            f"/api/v1/patients/{my_patient.pk}/", {"given_name": "New"}, format="json", HTTP_IF_MATCH=etag
        ),
        reads,
    )
    assert response.status_code == 200
    assert replica == set() and "patients.patient" in primary
    assert "clarity_primary" in response.cookies  # APIClient sends it back on the next request
    response, primary, replica, _ = run_captured(lambda: client.get(f"/api/v1/patients/{my_patient.pk}/"), reads)
    assert response["ETag"] != etag
    assert "patients.patient" in primary and replica == set()


def test_a_read_that_writes_pins_the_rest_of_its_request(my_patient, reads):
    from django.db import connection

    from patients.models import Patient

    token = replicas.begin(replica_allowed=True)
    try:
        assert Patient.objects.all().db == "replica"
        with connection.cursor() as cursor:  # an audit insert does not pin ...
            cursor.execute("UPDATE audit_auditevent SET hash = hash WHERE 1 = 0")
        assert Patient.objects.all().db == "replica"
        Patient.objects.filter(pk=my_patient.pk).update(given_name="Changed")  # ... any other write does
        assert Patient.objects.all().db == "default"
        assert replicas.current_state().wrote
    finally:
        replicas.end(token)


def test_a_forged_pin_is_ignored(client_for, clinician, my_patient, reads):
    client = client_for(clinician)
    client.cookies["clarity_primary"] = "1:forged:signature"
    _, primary, replica, _ = run_captured(lambda: client.get(f"/api/v1/patients/{my_patient.pk}/"), reads)
    assert "patients.patient" in replica and primary == set()


def test_an_unusable_replica_is_skipped(client_for, clinician, my_patient, reads):
    replicas.mark_down("replica")
    with override_settings(REPLICA_CHECK_SECONDS=3600):
        _, primary, replica, _ = run_captured(
            lambda: client_for(clinician).get(f"/api/v1/patients/{my_patient.pk}/"), reads
        )
    assert "patients.patient" in primary and replica == set()


def test_outside_a_request_everything_uses_the_primary(my_patient):
    from patients.models import Patient

    assert Patient.objects.all().db == "default"


def test_routing_state_is_per_asyncio_task():
    from patients.models import Patient

    router = replicas.ReplicaRouter()
    replicas._status["replica"] = replicas.ReplicaStatus(True, 0.0, float("inf"))
    seen = {}

    async def request(name, allowed):
        token = replicas.begin(replica_allowed=allowed)
        try:
            await asyncio.sleep(0.01)  # the other task runs in between
            seen[name] = router.db_for_read(Patient)
        finally:
            replicas.end(token)

    async def both():
        await asyncio.gather(request("reader", True), request("writer", False))

    asyncio.run(both())
    assert seen == {"reader": "replica", "writer": "default"}


def test_replica_urls_become_aliases_with_the_primarys_options(monkeypatch):
    import importlib

    import clarity.settings as live_settings

    monkeypatch.setenv("DATABASE_URL", "postgres://app@127.0.0.1:5432/clarity")
    monkeypatch.setenv(
        "DATABASE_REPLICA_URLS", "postgres://app@127.0.0.1:5433/clarity,postgres://app@127.0.0.1:5434/clarity"
    )
    module = importlib.reload(live_settings)
    try:
        assert module.REPLICA_ALIASES == ["replica_1", "replica_2"]
        replica = module.DATABASES["replica_2"]
        assert replica["PORT"] == 5434 and replica["TEST"] == {"MIRROR": "default"}
        assert replica["OPTIONS"]["pool"] == module.DATABASES["default"]["OPTIONS"]["pool"]
        assert "statement_timeout" in replica["OPTIONS"]["options"]
        monkeypatch.setenv("DATABASE_REPLICA_URLS", "postgres://app@db.example.org:5432/clarity")
        with pytest.raises(Exception, match="without TLS"):
            importlib.reload(live_settings)
    finally:
        monkeypatch.delenv("DATABASE_REPLICA_URLS")
        monkeypatch.undo()
        importlib.reload(live_settings)
