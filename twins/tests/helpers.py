"""Plain-ORM test data for the twins tests (the app factories live on another branch)."""

import datetime
import itertools

import pytest
from django.utils import timezone

from patients.models import BreakGlassGrant, CareTeamMembership, Patient
from twins.models import DigitalTwin, TwinRevision, TwinStatus, TwinType

_mrns = itertools.count(1)

VALID_CONFIGURATION = {
    "simulation_granularity_hours": 24,
    "prediction_models_enabled": ["risk_relapse", "symptom_forecast"],
    "data_sources_enabled": ["actigraphy", "symptoms"],
    "alert_thresholds": {"phq9_change": 5, "gad7_change": 4, "suicide_risk": 0.3, "sleep_hours_min": 5.5},
}


def make_patient(*, primary=None, consulting=(), user=None, **fields) -> Patient:
    values = {
        "mrn": f"TW-{next(_mrns):06d}",
        "given_name": "Test",
        "family_name": "Patient",
        "date_of_birth": datetime.date(1980, 1, 1),
    }
    values.update(fields)
    patient = Patient.objects.create(user=user, **values)
    if primary is not None:
        CareTeamMembership.objects.create(patient=patient, clinician=primary, role="primary")
    for clinician in consulting:
        CareTeamMembership.objects.create(patient=patient, clinician=clinician, role="consulting")
    return patient


def make_twin(
    patient, *, twin_type=TwinType.PSYCHIATRIC, status=TwinStatus.ACTIVE, configuration=None, created_by=None, **fields
) -> DigitalTwin:
    """A twin with its revision 1, as twin_create would leave it."""
    configuration = dict(VALID_CONFIGURATION) if configuration is None else configuration
    twin = DigitalTwin.objects.create(
        patient=patient,
        name=fields.pop("name", "Mood course"),
        twin_type=twin_type,
        status=status,
        configuration=configuration,
        created_by=created_by,
        **fields,
    )
    TwinRevision.objects.create(twin=twin, version=twin.version, configuration=configuration, changed_by=created_by)
    return twin


def grant_break_glass(patient, clinician) -> BreakGlassGrant:
    now = timezone.now()
    return BreakGlassGrant.objects.create(
        patient=patient,
        clinician=clinician,
        reason="Emergency department admission, patient unresponsive",
        created_at=now,
        expires_at=now + datetime.timedelta(hours=1),
    )


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Argon2 makes each test user cost ~0.5 s; these tests never check a password."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
