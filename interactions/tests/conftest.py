from types import SimpleNamespace

import pytest

from clarity.users.tests.factories import UserFactory
from patients.tests.factories import grant_break_glass, make_patient


@pytest.fixture
def world(admin_user, clinician, other_clinician, researcher, patient_user):
    """A patient with a login, a primary and a consulting clinician; outsiders of every role."""
    consulting = UserFactory(role="clinician")
    glass = UserFactory(role="clinician")
    patient = make_patient(primary=clinician, consulting=[consulting], user=patient_user)
    other_patient_user = UserFactory(role="patient")
    make_patient(primary=other_clinician, user=other_patient_user)
    grant_break_glass(glass, patient)
    return SimpleNamespace(
        patient=patient,
        users={
            "anonymous": None,
            "researcher": researcher,
            "patient_own": patient_user,
            "patient_other": other_patient_user,
            "primary": clinician,
            "consulting": consulting,
            "not_on_team": other_clinician,
            "admin": admin_user,
            "break_glass": glass,
        },
    )
