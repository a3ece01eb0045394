"""A real FHIR client (fhirpy, from PyPI) against the production server (`python -m clarity.serve`).

Searches patients, pages Observations through `Bundle.link[next]`, reads `$everything`,
gets 404 OperationOutcomes for out-of-scope ids, and finds every read in the audit trail.
Real processes on a scratch PostgreSQL database, so `postgres_only`.
"""

import datetime
import logging

import httpx
import psycopg
import pytest
from django.conf import settings
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome as OutcomeError
from fhirpy.base.exceptions import ResourceNotFound

from clarity.tests.reliability.harness import PgServer, ServerProcess, production_env, scratch_database, seed_world

pytestmark = pytest.mark.postgres_only

START = datetime.datetime(2025, 1, 6, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def live():
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    pg = PgServer.from_settings(settings.DATABASES["default"])
    env = production_env(pg.url("postgres"))
    with scratch_database(pg, env) as name:
        env = {**env, "DATABASE_URL": pg.url(name)}
        world = seed_world(env, patients=3)
        server = ServerProcess(env, workers=1).start()
        try:
            yield server, world, pg.url(name)
        finally:
            server.close()


def bearer(world, role):
    return {"Authorization": f"Bearer {world['tokens'][role]}"}


@pytest.fixture(scope="module")
def assessments(live):
    """Seven PHQ-9 and three GAD-7 totals for the first patient, written through the API."""
    server, world, _ = live
    patient = world["patients"][0]
    body = [
        {
            "kind": "assessment",
            "payload": {"instrument": "PHQ-9" if n < 7 else "GAD-7", "score": n},
            "occurred_at": (START + datetime.timedelta(days=n)).isoformat(),
        }
        for n in range(10)
    ]
    response = httpx.post(
        f"{server.url}/api/v1/patients/{patient}/interactions/",
        json=body,
        headers=bearer(world, "clinician"),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return patient


def fhir(live, role="clinician"):
    server, world, _ = live
    return SyncFHIRClient(f"{server.url}/fhir/R4", authorization=f"Bearer {world['tokens'][role]}")


def audit_count(database_url, **where):
    clauses = " AND ".join(f"{key} = %s" for key in where)
    with psycopg.connect(database_url) as conn:
        return conn.execute(f"SELECT count(*) FROM audit_auditevent WHERE {clauses}", list(where.values())).fetchone()[
            0
        ]


def test_fhirpy_searches_patients_page_by_page(live):
    _, world, database_url = live
    before = audit_count(database_url, action="list", resource_type="patient", actor_id=world["users"]["clinician"])
    found = fhir(live).resources("Patient").search(name="Fixture").limit(2).fetch_all()
    assert sorted(p.id for p in found) == sorted(world["patients"])
    for patient in found:
        FhirPatient.model_validate(patient.serialize())
    by_mrn = fhir(live).resources("Patient").search(identifier=f"urn:clarity:mrn|{found[0]['identifier'][0]['value']}")
    assert [p.id for p in by_mrn.fetch()] == [found[0].id]
    after = audit_count(database_url, action="list", resource_type="patient", actor_id=world["users"]["clinician"])
    assert after - before == 3 + 1  # one event per patient returned, over both pages, and the MRN search


def test_fhirpy_pages_observations_newest_first_and_filters_by_loinc_code(live, assessments):
    client = fhir(live)
    pages = client.resources("Observation").search(patient=assessments, code="http://loinc.org|44261-6").limit(3)
    phq9 = pages.fetch_all()
    assert [o["valueInteger"] for o in phq9] == [6, 5, 4, 3, 2, 1, 0]
    for observation in phq9:
        Observation.model_validate(observation.serialize())
        assert observation["code"]["coding"][0]["code"] == "44261-6"
    assert client.reference("Observation", phq9[0].id).to_resource()["valueInteger"] == 6
    gad7 = client.resources("Observation").search(patient=assessments, code="http://loinc.org|70274-6").fetch_all()
    assert [o["valueInteger"] for o in gad7] == [9, 8, 7]
    window = (
        client.resources("Observation").search(patient=assessments).search(date__ge="2025-01-08", date__lt="2025-01-10")
    )
    assert [o["valueInteger"] for o in window.fetch_all()] == [3, 2]


def test_fhirpy_reads_a_patient_and_everything(live, assessments):
    client = fhir(live)
    patient = client.reference("Patient", assessments).to_resource()
    FhirPatient.model_validate(patient.serialize())
    bundle = client.execute(f"Patient/{assessments}/$everything", method="get")
    Bundle.model_validate(bundle)
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds == ["Patient"] + ["Observation"] * 10


def test_out_of_scope_ids_are_404_operation_outcomes_and_audited(live):
    server, world, database_url = live
    outsider = fhir(live, "other_clinician")
    target = world["patients"][1]
    before = audit_count(database_url, action="denied", patient_id=target)
    with pytest.raises(ResourceNotFound) as caught:
        outsider.reference("Patient", target).to_resource()
    assert "not-found" in str(caught.value)
    response = httpx.get(f"{server.url}/fhir/R4/Patient/{target}", headers=bearer(world, "other_clinician"))
    assert response.status_code == 404 and response.headers["content-type"] == "application/fhir+json"
    assert response.json()["resourceType"] == "OperationOutcome"
    with pytest.raises((ResourceNotFound, OutcomeError)):
        outsider.resources("Observation").search(patient=target).fetch()
    assert audit_count(database_url, action="denied", patient_id=target) - before == 3
    assert outsider.resources("Patient").search(name="Fixture").fetch() == []


def test_every_fhir_read_is_in_the_audit_trail(live, assessments):
    _, world, database_url = live
    clinician = world["users"]["clinician"]
    reads = audit_count(
        database_url, action="read", resource_type="patient", patient_id=assessments, actor_id=clinician
    )
    exports = audit_count(
        database_url, action="export", resource_type="patient", patient_id=assessments, actor_id=clinician
    )
    client = fhir(live)
    for _ in range(3):
        client.reference("Patient", assessments).to_resource()
    client.execute(f"Patient/{assessments}/$everything", method="get")
    assert (
        audit_count(database_url, action="read", resource_type="patient", patient_id=assessments, actor_id=clinician)
        == reads + 3
    )
    assert (
        audit_count(database_url, action="export", resource_type="patient", patient_id=assessments, actor_id=clinician)
        == exports + 1
    )


def test_metadata_over_http_is_fhir_json(live):
    server, _, _ = live
    response = httpx.get(f"{server.url}/fhir/R4/metadata", headers={"Accept": "application/fhir+json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    assert response.json()["resourceType"] == "CapabilityStatement"
