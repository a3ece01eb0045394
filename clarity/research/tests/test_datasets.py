"""Research datasets: Safe Harbor de-identification, pseudonyms, k-anonymity, access, audit, streaming."""

import csv
import datetime
import io
import json
import re

import pytest
from django.utils import timezone

from clarity.audit.models import AuditEvent
from clarity.research import services
from clarity.research.models import DatasetRow, DatasetStatus, DatasetSubject, ResearchDataset
from clarity.users.tests.factories import UserFactory
from interactions.models import InteractionLog
from patients.tests.factories import PatientFactory
from twins.tests.factories import DigitalTwinFactory

pytestmark = pytest.mark.django_db

FULL_DATE = re.compile(rb"(?<![0-9A-Fa-f])\d{4}-\d{2}-\d{2}(?![0-9A-Fa-f])")
WHEN = datetime.datetime(2024, 3, 17, 14, 25, 36, tzinfo=datetime.UTC)
URL = "/api/v1/research/datasets/"


def _interaction(patient, kind, payload, when, twin=None):
    return InteractionLog.objects.create(patient=patient, twin=twin, kind=kind, payload=payload, occurred_at=when)


def marker_patient(n, *, birth=datetime.date(1971, 6, 23), sex="female", status="active"):
    """A patient whose every identifying field, and every free text, is a unique marker string."""
    patient = PatientFactory(
        mrn=f"MRNQX{n}ZZ",
        given_name=f"Givenqx{n}zz",
        family_name=f"Familyqx{n}zz",
        date_of_birth=birth,
        sex=sex,
        email=f"mailqx{n}zz@example.org",
        phone=f"+1415555{n:04d}",
        address=f"{n} Addressqx Street, Townqx{n}zz",
        status=status,
    )
    twin = DigitalTwinFactory(
        patient=patient,
        name=f"Twinnameqx{n}zz",
        configuration={"alert_thresholds": {"phq9_change": 5}},
        state={"summary": f"Stateqx{n}zz"},
    )
    _interaction(patient, "message", {"text": f"Messageqx{n}zz"}, WHEN, twin)
    _interaction(patient, "note", {"text": f"Noteqx{n}zz"}, WHEN + datetime.timedelta(hours=1))
    _interaction(
        patient, "assessment", {"instrument": "PHQ-9", "score": 10 + n}, WHEN + datetime.timedelta(days=2), twin
    )
    _interaction(patient, "assessment", {"instrument": "GAD-7", "score": n}, WHEN + datetime.timedelta(days=40))
    _interaction(
        patient, "observation", {"comment": f"Observationqx{n}zz", "instrument": f"Fakeqx{n}zz", "score": "x"}, WHEN
    )
    return patient


def markers(patient) -> list[str]:
    return [
        patient.mrn,
        patient.given_name,
        patient.family_name,
        patient.email,
        patient.phone,
        patient.address,
        "Townqx",
        "qx",  # every marker shares this; none may survive in any form
        str(patient.pk),
        patient.pk.hex,
        patient.date_of_birth.isoformat(),
    ]


def create_dataset(client, researchers, **overrides):
    body = {
        "name": "PHQ-9 trajectories",
        "purpose": "Relapse prediction study",
        "researchers": [str(r.pk) for r in researchers],
        "cohort": {"kind": "all_active"},
        "interaction_kinds": ["assessment", "message", "note", "observation"],
        **overrides,
    }
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def download(client, dataset, fmt="ndjson"):
    response = client.get(f"{URL}{dataset['id']}/download/", {"format": fmt})
    assert response.status_code == 200, response.content
    assert response.streaming
    return b"".join(response.streaming_content), response


def ndjson(body: bytes):
    lines = [json.loads(line) for line in body.decode().splitlines()]
    return lines[0]["manifest"], lines[1:]


def test_no_identifier_or_free_text_or_full_date_survives_in_either_download(client_for, admin_user, researcher):
    patients = [marker_patient(n) for n in range(1, 7)]
    dataset = create_dataset(client_for(admin_user), [researcher])
    researcher_client = client_for(researcher)

    for fmt in ("ndjson", "csv"):
        body, _ = download(researcher_client, dataset, fmt)
        for patient in patients:
            for marker in markers(patient):
                assert marker.lower().encode() not in body.lower(), (fmt, marker)
        assert not FULL_DATE.search(body), (fmt, FULL_DATE.search(body))
        assert b"1971" in body  # the year of birth is what Safe Harbor keeps

    manifest, rows = ndjson(download(researcher_client, dataset)[0])
    assert manifest["counts"] == {
        "cohort_patients": 6, "patients": 6, "rows": 6 * 6, "suppressed_patients": 0, "suppressed_rows": 0,
    }  # fmt: skip
    assert len({row["pseudonym"] for row in rows}) == 6
    assessments = sorted((row["instrument"], row["score"]) for row in rows if row["kind"] == "assessment")
    assert assessments == sorted([("PHQ-9", 10 + n) for n in range(1, 7)] + [("GAD-7", n) for n in range(1, 7)])
    observations = [row for row in rows if row["kind"] == "observation"]
    assert all(row["instrument"] is None and row["score"] is None for row in observations)
    assert {row["year"] for row in rows} == {2024, timezone.now().year}  # interactions and twin creation
    assert all(set(row) == set(manifest["rules"]["columns"]) for row in rows)

    csv_body, response = download(researcher_client, dataset, "csv")
    assert response["Content-Type"].startswith("text/csv")
    lines = csv_body.decode().splitlines()
    assert lines[0].startswith("# manifest: ")
    parsed = list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))
    assert len(parsed) == 36 and parsed[0]["birth_year"] == "1971"


def test_order_within_a_patient_is_kept_by_sequence_number(client_for, admin_user, researcher):
    for n in range(5):
        marker_patient(n)
    dataset = create_dataset(client_for(admin_user), [researcher], interaction_kinds=["assessment"])
    _, rows = ndjson(download(client_for(researcher), dataset)[0])
    by_subject = {}
    for row in rows:
        by_subject.setdefault(row["pseudonym"], []).append(row)
    for subject_rows in by_subject.values():
        assert [row["seq"] for row in subject_rows] == [1, 2, 3]
        # The twin was created now, after the assessments of 2024, so it comes last.
        assert [row["instrument"] or row["record"] for row in subject_rows] == ["PHQ-9", "GAD-7", "twin"]


def test_groups_smaller_than_k_are_suppressed_and_counted(client_for, admin_user, researcher):
    for n in range(5):
        marker_patient(n, birth=datetime.date(1980, 1, 1), sex="male")
    for n in range(5, 7):
        marker_patient(n, birth=datetime.date(1990, 1, 1), sex="intersex")
    dataset = create_dataset(client_for(admin_user), [researcher], interaction_kinds=["assessment", "message"])
    manifest, rows = ndjson(download(client_for(researcher), dataset)[0])
    assert manifest["counts"]["suppressed_patients"] == 2
    assert manifest["counts"]["suppressed_rows"] == 2 * 4  # twin, message, two assessments each
    assert manifest["counts"]["patients"] == 5 and manifest["counts"]["rows"] == 5 * 4
    assert {(row["birth_year"], row["sex"]) for row in rows} == {("1980", "male")}
    assert manifest["rules"]["k_anonymity"] == {"k": 5, "quasi_identifiers": ["birth_year", "sex"]}


def test_ages_over_89_are_one_group_and_their_birth_year_is_hidden(client_for, admin_user, researcher):
    this_year = timezone.now().year
    for n in range(5):
        marker_patient(n, birth=datetime.date(this_year - 91 - n, 2, 2), sex="female")
    dataset = create_dataset(client_for(admin_user), [researcher], interaction_kinds=["assessment"], k=5)
    body, _ = download(client_for(researcher), dataset)
    manifest, rows = ndjson(body)
    assert {row["birth_year"] for row in rows} == {"90+"}
    assert manifest["counts"]["suppressed_patients"] == 0  # five different years, one group
    for n in range(5):
        assert str(this_year - 91 - n).encode() not in body


def test_pseudonyms_are_stable_across_rebuilds_and_unrelated_across_datasets(client_for, admin_user, researcher):
    for n in range(5):
        marker_patient(n)
    admin = client_for(admin_user)
    first = create_dataset(admin, [researcher])
    second = create_dataset(admin, [researcher])
    pseudonyms = lambda d: {row["pseudonym"] for row in ndjson(download(client_for(researcher), d)[0])[1]}  # noqa: E731
    before = pseudonyms(first)

    response = admin.post(f"{URL}{first['id']}/build/", {}, format="json")
    assert response.status_code == 200 and response.json()["build"] == 2

    assert pseudonyms(first) == before
    assert not before & pseudonyms(second)
    # Only the latest build is kept.
    assert set(DatasetRow.objects.filter(dataset_id=first["id"]).values_list("build", flat=True)) == {2}


def test_cohorts_by_twin_type_and_by_instrument_take_only_active_patients(client_for, admin_user, researcher):
    with_gad = [marker_patient(n) for n in range(5)]
    for n in range(5, 10):
        patient = PatientFactory(date_of_birth=datetime.date(1971, 1, 1), sex="female")
        DigitalTwinFactory(patient=patient, twin_type="biometric")
        _interaction(patient, "assessment", {"instrument": "PHQ-9", "score": 3}, WHEN)
    inactive = marker_patient(11, status="inactive")
    DigitalTwinFactory(patient=inactive, twin_type="biometric")
    admin = client_for(admin_user)

    biometric = create_dataset(admin, [researcher], cohort={"kind": "twin_type", "value": "biometric"})
    gad7 = create_dataset(admin, [researcher], cohort={"kind": "instrument", "value": "GAD-7"})
    everyone = create_dataset(admin, [researcher])

    assert biometric["manifest"]["counts"]["cohort_patients"] == 5
    assert gad7["manifest"]["counts"]["cohort_patients"] == 5
    assert everyone["manifest"]["counts"]["cohort_patients"] == 10
    biometric_subjects = set(
        DatasetSubject.objects.filter(dataset_id=biometric["id"]).values_list("patient_id", flat=True)
    )
    assert biometric_subjects.isdisjoint({p.pk for p in with_gad} | {inactive.pk})


def test_named_researchers_list_and_download_others_get_404_and_other_roles_403(
    client_for, admin_user, researcher, clinician, patient_user
):
    for n in range(5):
        marker_patient(n)
    other_researcher = UserFactory(role="researcher")
    dataset = create_dataset(client_for(admin_user), [researcher])
    detail, file = f"{URL}{dataset['id']}/", f"{URL}{dataset['id']}/download/"

    listed = client_for(researcher).get(URL).json()["results"]
    assert [d["id"] for d in listed] == [dataset["id"]]
    assert client_for(other_researcher).get(URL).json()["results"] == []
    assert client_for(other_researcher).get(detail).status_code == 404
    assert client_for(other_researcher).get(file).status_code == 404
    missing = f"{URL}00000000-0000-0000-0000-000000000000/download/"
    assert client_for(other_researcher).get(missing).status_code == 404

    for user in (clinician, patient_user):
        for path in (URL, detail, file, missing):
            assert client_for(user).get(path).status_code == 403
    assert client_for(admin_user).get(file).status_code == 403  # admins define, only researchers receive rows
    assert client_for(researcher).post(URL, {}, format="json").status_code == 403
    assert client_for(researcher).post(f"{detail}build/", {}, format="json").status_code == 403
    assert client_for(None).get(file).status_code == 401
    assert client_for(researcher).get(detail).json()["manifest"]["counts"]["patients"] == 5


def test_every_build_and_download_is_audited_as_an_export(client_for, admin_user, researcher):
    for n in range(5):
        marker_patient(n)
    dataset = create_dataset(client_for(admin_user), [researcher])
    client_for(admin_user).post(f"{URL}{dataset['id']}/build/", {}, format="json")
    download(client_for(researcher), dataset)
    download(client_for(researcher), dataset, "csv")

    exports = AuditEvent.objects.filter(action="export", resource_type="research_dataset", resource_id=dataset["id"])
    assert sorted(exports.values_list("actor_role", flat=True)) == ["admin", "admin", "researcher", "researcher"]
    assert AuditEvent.objects.filter(action="create", resource_type="research_dataset").count() == 1
    denied = UserFactory(role="researcher")
    client_for(denied).get(f"{URL}{dataset['id']}/download/")
    assert AuditEvent.objects.filter(action="denied", actor=denied, resource_type="research_dataset").count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cohort": {"kind": "twin_type", "value": "nonsense"}}, "cohort.value"),
        ({"cohort": {"kind": "all_active", "value": "GAD-7"}}, "cohort.value"),
        ({"interaction_kinds": ["payload"]}, "interaction_kinds.0"),
        ({"interaction_kinds": ["message", "message"]}, "interaction_kinds"),
        ({"k": 1}, "k"),
        ({"unknown": 1}, "unknown"),
        ({"researchers": []}, "researchers"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_definitions_are_400_and_create_nothing(client_for, admin_user, researcher, change, field):
    body = {
        "name": "n", "purpose": "p", "researchers": [str(researcher.pk)],
        "cohort": {"kind": "all_active"}, "interaction_kinds": ["assessment"], **change,
    }  # fmt: skip
    response = client_for(admin_user).post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not ResearchDataset.objects.exists()


def test_a_dataset_can_only_be_for_researchers(client_for, admin_user, clinician):
    body = {
        "name": "n",
        "purpose": "p",
        "researchers": [str(clinician.pk)],
        "cohort": {"kind": "all_active"},
        "interaction_kinds": [],
    }
    response = client_for(admin_user).post(URL, body, format="json")
    assert response.status_code == 400 and "researchers" in response.json()["errors"]
    assert not ResearchDataset.objects.exists()


def test_unknown_download_format_is_400(client_for, admin_user, researcher):
    dataset = create_dataset(client_for(admin_user), [researcher])
    response = client_for(researcher).get(f"{URL}{dataset['id']}/download/", {"format": "xml"})
    assert response.status_code == 400 and "format" in response.json()["errors"]
    refused = client_for(researcher).get(f"{URL}{dataset['id']}/download/", HTTP_ACCEPT="application/xml")
    assert refused.status_code == 406 and refused["Content-Type"] == "application/problem+json"
    assert (
        client_for(researcher)
        .get(f"{URL}{dataset['id']}/download/", HTTP_ACCEPT="text/csv")["Content-Type"]
        .startswith("text/csv")
    )


def test_download_is_streamed_in_chunks(client_for, admin_user, researcher, monkeypatch):
    from clarity.research import download as download_module

    monkeypatch.setattr(download_module, "ROWS_PER_CHUNK", 7)
    for n in range(5):
        marker_patient(n)
    dataset = create_dataset(client_for(admin_user), [researcher])
    response = client_for(researcher).get(f"{URL}{dataset['id']}/download/")
    chunks = list(response.streaming_content)
    # The manifest line, then 30 rows in chunks of 7.
    assert [chunk.count(b"\n") for chunk in chunks] == [1, 7, 7, 7, 7, 2]


def test_an_interrupted_build_resumes_and_gives_the_same_rows(client_for, admin_user, researcher, monkeypatch):
    for n in range(7):
        marker_patient(n)
    monkeypatch.setattr(services, "CHUNK_PATIENTS", 2)
    real = services.research_facts
    calls = []

    def failing_on_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "research_facts", failing_on_third_chunk)
    dataset = services.dataset_create(
        actor=admin_user,
        data={"name": "n", "purpose": "p", "researchers": [researcher.pk], "interaction_kinds": ["assessment"]},
        ctx=services.AuditContext(actor=admin_user),
    )
    with pytest.raises(RuntimeError):
        services.dataset_build(dataset_id=dataset.pk, actor=admin_user, ctx=services.AuditContext(actor=admin_user))
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.FAILED and dataset.ready_build is None
    assert DatasetRow.objects.filter(dataset=dataset).count() == 4 * 3  # two chunks of two patients committed

    response = client_for(admin_user).post(f"{URL}{dataset.pk}/build/", {"resume": True}, format="json")
    assert response.status_code == 200, response.content
    counts = response.json()["manifest"]["counts"]
    assert counts["rows"] == 7 * 3 and counts["patients"] == 7
    assert DatasetRow.objects.filter(dataset=dataset).count() == 7 * 3
    assert client_for(admin_user).post(f"{URL}{dataset.pk}/build/", {"resume": True}, format="json").status_code == 409


def test_a_running_build_refuses_a_second_one(client_for, admin_user, researcher):
    dataset = create_dataset(client_for(admin_user), [researcher])
    ResearchDataset.objects.filter(pk=dataset["id"]).update(status=DatasetStatus.BUILDING)
    assert client_for(admin_user).post(f"{URL}{dataset['id']}/build/", {}, format="json").status_code == 409


def test_a_rebuild_needs_no_body_and_refuses_a_non_object(client_for, admin_user, researcher):
    dataset = create_dataset(client_for(admin_user), [researcher])
    admin = client_for(admin_user)
    assert admin.post(f"{URL}{dataset['id']}/build/").status_code == 200
    assert admin.post(f"{URL}{dataset['id']}/build/", [1], format="json").status_code == 400
    assert admin.post(f"{URL}{dataset['id']}/build/", {"resume": "maybe"}, format="json").status_code == 400
    missing = f"{URL}00000000-0000-0000-0000-000000000000/build/"
    assert admin.post(missing, {}, format="json").status_code == 404
