import io

import pytest
from django.core.management import call_command

from clarity.users.models import User
from interactions.models import InteractionLog
from patients.management.commands import seed_demo
from patients.management.commands.seed_demo import INTERACTIONS_PER_PATIENT
from patients.models import CareTeamMembership, Patient
from patients.tests.factories import PatientFactory
from twins.models import DigitalTwin, TwinRevision

pytestmark = pytest.mark.django_db

ACCOUNTS = {
    "demo-admin": "admin",
    "demo-clinician": "clinician",
    "demo-patient": "patient",
    "demo-researcher": "researcher",
}


def seed(*args):
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("seed_demo", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue()


def printed_passwords(output):
    return {
        line.split()[0]: line.split()[1] for line in output.splitlines() if line.split()[:1] in [[u] for u in ACCOUNTS]
    }


def test_seeding_twice_creates_the_patients_and_accounts_once():
    seed("--patients", "5")
    seed("--patients", "5")

    assert sorted(Patient.objects.values_list("mrn", flat=True)) == [f"DEMO-{n:06d}" for n in range(1, 6)]
    assert {u.username: u.role for u in User.objects.filter(username__in=ACCOUNTS)} == ACCOUNTS
    admin = User.objects.get(username="demo-admin")
    assert admin.is_staff and admin.is_superuser
    assert not User.objects.filter(username__in=["demo-clinician", "demo-patient", "demo-researcher"], is_staff=True)


def test_passwords_are_printed_once_and_sign_in():
    first = seed("--patients", "1")
    second = seed("--patients", "1")

    passwords = printed_passwords(first)
    assert passwords.keys() == ACCOUNTS.keys()
    for username, password in passwords.items():
        assert len(password) >= 24
        assert User.objects.get(username=username).check_password(password)
        assert password not in second
    assert printed_passwords(second) == {}


def test_existing_accounts_are_left_untouched():
    seed("--patients", "0")
    clinician = User.objects.get(username="demo-clinician")
    clinician.set_password("changed by its owner 123")
    clinician.save()

    output = seed("--patients", "2")

    clinician.refresh_from_db()
    assert clinician.check_password("changed by its owner 123")
    assert "demo-clinician" not in output


def test_each_demo_patient_gets_a_care_team_twins_revisions_and_history():
    seed("--patients", "5")

    twins = DigitalTwin.objects.all()
    assert 5 <= twins.count() <= 10
    assert set(twins.values_list("twin_type", flat=True)) <= {"psychiatric", "biometric"}
    assert Patient.objects.filter(twins__twin_type="psychiatric").count() == 5
    assert TwinRevision.objects.count() == twins.count()
    for twin in twins:
        assert list(twin.revisions.values_list("version", "configuration")) == [(1, twin.configuration)]
    assert InteractionLog.objects.count() == 5 * INTERACTIONS_PER_PATIENT
    assert CareTeamMembership.objects.filter(role="primary", clinician__username="demo-clinician").count() == 5
    assert CareTeamMembership.objects.filter(role="consulting").count() == 5
    assert Patient.objects.get(mrn="DEMO-000001").user.username == "demo-patient"


def test_seeded_rows_pass_model_validation():
    seed("--patients", "3")

    for model in (Patient, CareTeamMembership, DigitalTwin, TwinRevision, InteractionLog):
        for row in model.objects.all():
            row.full_clean()
    kinds = set(InteractionLog.objects.values_list("kind", flat=True))
    assert {"message", "assessment", "observation"} <= kinds


def test_a_larger_run_adds_only_the_missing_patients():
    seed("--patients", "2")

    output = seed("--patients", "4")

    assert Patient.objects.filter(mrn__startswith="DEMO-").count() == 4
    assert InteractionLog.objects.count() == 4 * INTERACTIONS_PER_PATIENT
    assert "Seeded 2 demo patients (2 already existed)." in output


def test_large_runs_report_progress_per_chunk_on_stderr(monkeypatch):
    monkeypatch.setattr(seed_demo, "CHUNK", 2)
    stderr = io.StringIO()

    call_command("seed_demo", "--patients", "5", stdout=io.StringIO(), stderr=stderr)

    assert stderr.getvalue().splitlines() == [
        "seed_demo: 2/5 patients",
        "seed_demo: 4/5 patients",
        "seed_demo: 5/5 patients",
    ]
    assert Patient.objects.count() == 5


def test_if_empty_does_nothing_when_a_patient_exists():
    PatientFactory()

    output = seed("--patients", "5", "--if-empty")

    assert Patient.objects.count() == 1
    assert not User.objects.filter(username__startswith="demo-").exists()
    assert "nothing seeded" in output


def test_if_empty_seeds_an_empty_database():
    seed("--patients", "2", "--if-empty")

    assert Patient.objects.count() == 2


def test_reset_passwords_prints_new_passwords_that_sign_in_and_seeds_nothing():
    first = printed_passwords(seed("--patients", "1"))

    output = seed("--reset-passwords")

    reset = printed_passwords(output)
    assert reset.keys() == ACCOUNTS.keys()
    for username, password in reset.items():
        user = User.objects.get(username=username)
        assert password != first[username]
        assert user.check_password(password) and not user.check_password(first[username])
    assert Patient.objects.count() == 1
