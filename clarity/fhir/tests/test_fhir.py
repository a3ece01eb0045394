"""FHIR R4 read-only view: resources validated with fhir.resources (R4B models), scope, paging, audit."""

import datetime
import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient as FhirPatient

from clarity.audit.models import AuditEvent
from clarity.users.tests.factories import UserFactory
from interactions.models import InteractionLog
from patients.tests.factories import CareTeamMembershipFactory, PatientFactory, grant_break_glass

pytestmark = pytest.mark.django_db

BASE = "/fhir/R4/"
DAY = datetime.datetime(2025, 5, 1, 12, 0, tzinfo=datetime.UTC)


def fhir_json(response):
    assert response["Content-Type"] == "application/fhir+json", response["Content-Type"]
    return json.loads(response.content)


def outcome(response, status):
    assert response.status_code == status, response.content
    body = fhir_json(response)
    OperationOutcome.model_validate(body)
    return body


@pytest.fixture
def patient(clinician):
    patient = PatientFactory(
        mrn="MRN-FHIR-1",
        given_name="Ada",
        family_name="Lovelace",
        date_of_birth=datetime.date(1985, 12, 10),
        sex="intersex",
        email="ada@example.org",
        phone="+14155550123",
        address="12 Analytical Row",
    )
    CareTeamMembershipFactory(patient=patient, clinician=clinician, role="primary")
    return patient


def assess(patient, instrument, score, when):
    return InteractionLog.objects.create(
        patient=patient, kind="assessment", payload={"instrument": instrument, "score": score}, occurred_at=when
    )


def test_metadata_is_a_capability_statement_of_exactly_what_is_served(api_client):
    response = api_client.get(f"{BASE}metadata")
    assert response.status_code == 200
    body = fhir_json(response)
    CapabilityStatement.model_validate(body)
    rest = body["rest"][0]
    assert {r["type"]: [i["code"] for i in r["interaction"]] for r in rest["resource"]} == {
        "Patient": ["read", "search-type"],
        "Observation": ["read", "search-type"],
    }
    assert body["fhirVersion"] == "4.0.1" and body["format"] == ["json"]


def test_patient_read_maps_every_field(client_for, clinician, patient):
    response = client_for(clinician).get(f"{BASE}Patient/{patient.pk}")
    assert response.status_code == 200
    body = fhir_json(response)
    FhirPatient.model_validate(body)
    assert body["id"] == str(patient.pk)
    assert body["identifier"][0]["system"] == "urn:clarity:mrn" and body["identifier"][0]["value"] == "MRN-FHIR-1"
    assert body["name"] == [{"use": "official", "family": "Lovelace", "given": ["Ada"]}]
    assert body["gender"] == "other" and body["birthDate"] == "1985-12-10" and body["active"] is True
    assert {t["system"]: t["value"] for t in body["telecom"]} == {"phone": "+14155550123", "email": "ada@example.org"}
    assert body["address"] == [{"text": "12 Analytical Row"}]
    assert response["ETag"] == f'W/"{patient.version}"'
    assert response["Cache-Control"] == "no-store" and response["Pragma"] == "no-cache"  # PHI: no cache keeps it
    event = AuditEvent.objects.get(action="read", resource_type="patient", patient_id=patient.pk)
    assert event.actor == clinician


def test_out_of_scope_and_missing_patients_are_the_same_404_outcome_and_audited(client_for, other_clinician, patient):
    client = client_for(other_clinician)
    out_of_scope = outcome(client.get(f"{BASE}Patient/{patient.pk}"), 404)
    missing = outcome(client.get(f"{BASE}Patient/00000000-0000-0000-0000-000000000000"), 404)
    assert out_of_scope == missing
    assert out_of_scope["issue"][0]["code"] == "not-found"
    assert AuditEvent.objects.filter(action="denied", actor=other_clinician, patient_id=patient.pk).count() == 1
    outcome(client.get(f"{BASE}Patient/not-a-uuid"), 404)
    outcome(client.get(f"{BASE}Patient/{patient.pk}/$everything"), 404)
    outcome(client.get(f"{BASE}Observation", {"patient": str(patient.pk)}), 404)


def test_researchers_get_403_outcomes_and_anonymous_401(client_for, researcher, patient):
    for path in (
        f"Patient/{patient.pk}",
        "Patient",
        f"Observation?patient={patient.pk}",
        f"Patient/{patient.pk}/$everything",
    ):
        assert outcome(client_for(researcher).get(BASE + path), 403)["issue"][0]["code"] == "forbidden"
    response = client_for(None).get(f"{BASE}Patient/{patient.pk}")
    assert outcome(response, 401)["issue"][0]["code"] == "login"
    assert response["WWW-Authenticate"] == "Bearer"


def test_patient_search_by_identifier_and_name_within_scope(client_for, clinician, other_clinician, patient):
    other = PatientFactory(family_name="Lovelock", given_name="Zed")
    CareTeamMembershipFactory(patient=other, clinician=other_clinician, role="primary")
    client = client_for(clinician)

    def ids(**params):
        response = client.get(f"{BASE}Patient", params)
        assert response.status_code == 200, response.content
        body = fhir_json(response)
        Bundle.model_validate(body)
        assert body["type"] == "searchset"
        return [e["resource"]["id"] for e in body.get("entry", [])]

    assert ids(identifier="urn:clarity:mrn|MRN-FHIR-1") == [str(patient.pk)]
    assert ids(identifier="MRN-FHIR-1") == [str(patient.pk)]
    assert ids(identifier="http://other.example/mrn|MRN-FHIR-1") == []
    assert ids(name="love") == [str(patient.pk)]  # prefix, case-insensitive; Lovelock is not on the team
    assert ids(name="ada") == [str(patient.pk)]
    assert ids(name="lace") == []
    assert client_for(other_clinician).get(f"{BASE}Patient", {"name": "Love"}).json()["entry"][0]["resource"][
        "id"
    ] == str(other.pk)
    assert (
        AuditEvent.objects.filter(
            action="list", resource_type="patient", actor=clinician, patient_id=patient.pk
        ).count()
        == 4
    )


def test_patient_search_pages_with_count_and_next_links(client_for, admin_user):
    created = sorted((PatientFactory(family_name=f"Page{n:02d}") for n in range(7)), key=lambda p: p.family_name)
    client = client_for(admin_user)
    url, seen = f"{BASE}Patient?name=Page&_count=3", []
    while url:
        body = fhir_json(client.get(url))
        Bundle.model_validate(body)
        seen += [e["resource"]["id"] for e in body.get("entry", [])]
        url = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
    assert seen == [str(p.pk) for p in created]


def test_observation_search_by_code_and_date_newest_first(client_for, clinician, patient):
    phq_old = assess(patient, "PHQ-9", 20, DAY)
    gad = assess(patient, "GAD-7", 12, DAY + datetime.timedelta(days=1))
    phq_new = assess(patient, "PHQ-9", 8, DAY + datetime.timedelta(days=30))
    InteractionLog.objects.create(patient=patient, kind="message", payload={"text": "hello"}, occurred_at=DAY)
    client = client_for(clinician)

    def search(**params):
        response = client.get(f"{BASE}Observation", {"patient": str(patient.pk), **params})
        assert response.status_code == 200, response.content
        body = fhir_json(response)
        Bundle.model_validate(body)
        return [e["resource"] for e in body.get("entry", [])]

    everything = search()
    assert [o["id"] for o in everything] == [str(phq_new.pk), str(gad.pk), str(phq_old.pk)]
    for resource in everything:
        Observation.model_validate(resource)
    first = everything[0]
    assert first["status"] == "final" and first["valueInteger"] == 8
    assert first["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "44261-6",
        "display": "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
    }
    assert first["subject"] == {"reference": f"Patient/{patient.pk}"}
    assert first["effectiveDateTime"] == "2025-05-31T12:00:00Z"

    assert [o["id"] for o in search(code="http://loinc.org|44261-6")] == [str(phq_new.pk), str(phq_old.pk)]
    assert [o["id"] for o in search(code="70274-6")] == [str(gad.pk)]
    assert [o["id"] for o in search(date=["ge2025-05-02", "lt2025-06-01"])] == [str(phq_new.pk), str(gad.pk)]
    assert [o["id"] for o in search(date="ge2025-05-02")] == [str(phq_new.pk), str(gad.pk)]
    assert [o["id"] for o in search(date="lt2025-05-02")] == [str(phq_old.pk)]
    assert [o["id"] for o in search(date="le2025-05-02")] == [str(gad.pk), str(phq_old.pk)]
    assert [o["id"] for o in search(patient=f"Patient/{patient.pk}", _count="1")] == [str(phq_new.pk)]
    assert AuditEvent.objects.filter(action="list", resource_type="interaction", patient_id=patient.pk).count() == 8


def test_observation_pages_follow_next_links(client_for, clinician, patient):
    made = [assess(patient, "GAD-7", n, DAY + datetime.timedelta(hours=n)) for n in range(5)]
    url, seen = f"{BASE}Observation?patient={patient.pk}&_count=2", []
    while url:
        body = fhir_json(client_for(clinician).get(url))
        seen += [e["resource"]["valueInteger"] for e in body.get("entry", [])]
        url = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
    assert seen == [4, 3, 2, 1, 0] and len(made) == 5


@pytest.mark.parametrize(
    "query",
    [
        "Observation",
        "Observation?patient={pk}&code=http://snomed.info/sct|44261-6",
        "Observation?patient={pk}&code=1234-5",
        "Observation?patient={pk}&date=2025-13-01",
        "Observation?patient={pk}&date=ge2025-05-01T10:00:00",
        "Observation?patient={pk}&date=ge2025-01-01&date=lt2025-02-01&date=lt2025-03-01",
        "Observation?patient={pk}&_count=0",
        "Observation?patient={pk}&_count=201",
        "Observation?patient={pk}&unknown=1",
        "Observation?patient={pk}&cursor=garbage",
        "Patient?identifier=",
        "Patient?name=",
        "Patient?_count=x",
    ],
)
def test_bad_search_parameters_are_400_outcomes(client_for, clinician, patient, query):
    body = outcome(client_for(clinician).get(BASE + query.format(pk=patient.pk)), 400)
    assert body["issue"][0]["code"] == "invalid"


def test_everything_streams_patient_and_observations_and_is_audited_as_export(
    client_for, clinician, patient, monkeypatch
):
    from clarity.fhir import everything

    monkeypatch.setattr(everything, "ENTRIES_PER_CHUNK", 2)
    for n in range(5):
        assess(patient, "PHQ-9", n, DAY + datetime.timedelta(days=n))
    InteractionLog.objects.create(patient=patient, kind="note", payload={"text": "private"}, occurred_at=DAY)
    response = client_for(clinician).get(f"{BASE}Patient/{patient.pk}/$everything")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/fhir+json"
    chunks = list(response.streaming_content)
    assert len(chunks) == 4  # the head with the Patient, then 2 + 2 + 1 Observations
    body = json.loads(b"".join(chunks))
    Bundle.model_validate(body)
    types = [e["resource"]["resourceType"] for e in body["entry"]]
    assert types == ["Patient"] + ["Observation"] * 5
    assert [e["resource"].get("valueInteger") for e in body["entry"][1:]] == [4, 3, 2, 1, 0]
    assert b"private" not in b"".join(chunks)
    assert AuditEvent.objects.filter(
        action="export", resource_type="patient", patient_id=patient.pk, actor=clinician
    ).exists()


def test_break_the_glass_reads_are_marked_and_everything_is_refused(client_for, patient):
    glass = UserFactory(role="clinician")
    grant_break_glass(glass, patient)
    assert client_for(glass).get(f"{BASE}Patient/{patient.pk}").status_code == 200
    assert AuditEvent.objects.get(action="read", actor=glass, resource_type="patient").break_glass is True
    outcome(client_for(glass).get(f"{BASE}Patient/{patient.pk}/$everything"), 403)


def test_a_patient_reads_only_their_own_record(client_for, patient_user, patient):
    patient.user = patient_user
    patient.save()
    other = PatientFactory()
    client = client_for(patient_user)
    assert client.get(f"{BASE}Patient/{patient.pk}").status_code == 200
    outcome(client.get(f"{BASE}Patient/{other.pk}"), 404)
    assert [e["resource"]["id"] for e in client.get(f"{BASE}Patient").json()["entry"]] == [str(patient.pk)]


def test_writes_unknown_resources_and_other_formats_are_outcomes(client_for, clinician, patient):
    client = client_for(clinician)
    assert outcome(client.post(f"{BASE}Patient", {}, format="json"), 405)["issue"][0]["code"] == "not-supported"
    assert outcome(client.delete(f"{BASE}Patient/{patient.pk}"), 405)["issue"][0]["code"] == "not-supported"
    outcome(client.get(f"{BASE}Encounter"), 404)
    outcome(client.get(f"{BASE}Patient/{patient.pk}", {"_format": "xml"}), 406)
    assert client.get(f"{BASE}Patient/{patient.pk}", {"_format": "json"}).status_code == 200
    assert client.get(f"{BASE}Patient/{patient.pk}", HTTP_ACCEPT="application/fhir+json").status_code == 200


def test_observation_read_resolves_full_urls_within_scope_only(
    client_for, clinician, other_clinician, researcher, patient
):
    score = assess(patient, "GAD-7", 11, DAY)
    message = InteractionLog.objects.create(patient=patient, kind="message", payload={"text": "hi"}, occurred_at=DAY)
    search = fhir_json(client_for(clinician).get(f"{BASE}Observation", {"patient": str(patient.pk)}))
    full_url = search["entry"][0]["fullUrl"]
    assert full_url.endswith(f"/fhir/R4/Observation/{score.pk}")

    response = client_for(clinician).get(full_url.split("testserver", 1)[1])
    assert response.status_code == 200
    body = fhir_json(response)
    Observation.model_validate(body)
    assert body == search["entry"][0]["resource"]
    assert AuditEvent.objects.filter(action="read", resource_type="interaction", resource_id=str(score.pk)).count() == 1

    outsider = outcome(client_for(other_clinician).get(f"{BASE}Observation/{score.pk}"), 404)
    assert outsider == outcome(client_for(other_clinician).get(f"{BASE}Observation/999999999"), 404)
    outcome(client_for(clinician).get(f"{BASE}Observation/{message.pk}"), 404)  # not an assessment
    outcome(client_for(clinician).get(f"{BASE}Observation/abc"), 404)
    outcome(client_for(researcher).get(f"{BASE}Observation/{score.pk}"), 403)
    outcome(client_for(researcher).get(f"{BASE}Observation/999999999"), 403)
    assert AuditEvent.objects.filter(action="denied", actor=other_clinician, patient_id=patient.pk).count() == 1
