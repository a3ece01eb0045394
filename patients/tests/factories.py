"""The one set of test data for patients: factory_boy factories, and `make_patient()` and
`grant_break_glass()` built on them, used by every app's tests."""

import datetime
import itertools

import factory
from django.utils import timezone

from clarity.users.tests.factories import UserFactory
from patients.models import BreakGlassGrant, CareTeamMembership, Patient

_numbers = itertools.count(1)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"MRN-{n:06d}")
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    date_of_birth = factory.Faker(
        "date_between", start_date=datetime.date(1940, 1, 1), end_date=datetime.date(2005, 12, 31)
    )
    sex = factory.Iterator(["female", "male", "intersex", "unknown"])


class CareTeamMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareTeamMembership

    patient = factory.SubFactory(PatientFactory)
    clinician = factory.SubFactory(UserFactory, role="clinician")
    role = "consulting"


class BreakGlassGrantFactory(factory.django.DjangoModelFactory):
    """A live grant, as break_glass_grant leaves it (one hour, the default BREAK_GLASS_TTL)."""

    class Meta:
        model = BreakGlassGrant

    patient = factory.SubFactory(PatientFactory)
    clinician = factory.SubFactory(UserFactory, role="clinician")
    reason = "Unconscious in the emergency room"
    created_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda grant: grant.created_at + datetime.timedelta(hours=1))


def make_patient(*, primary=None, consulting=(), user=None, **fields) -> Patient:
    """A patient with distinctive PHI in every field (so the suite's PHI-leak check can spot
    it in any log line or error body), `primary` and `consulting` clinicians on its care team."""
    n = next(_numbers)
    values = {
        "mrn": f"MRN{n:06d}",
        "given_name": f"Given{n}",
        "family_name": f"Family{n}",
        "date_of_birth": datetime.date(1980, 1, 1) + datetime.timedelta(days=n),
        "sex": "female",
        "email": f"patient{n}@phi.example",
        "phone": f"+1415555{n:04d}",
        "address": f"{n} Secret Street",
        "user": user,
    }
    patient = PatientFactory(**{**values, **fields})
    if primary is not None:
        CareTeamMembershipFactory(patient=patient, clinician=primary, role="primary")
    for clinician in consulting:
        CareTeamMembershipFactory(patient=patient, clinician=clinician, role="consulting")
    return patient


def grant_break_glass(clinician, patient) -> BreakGlassGrant:
    """A live break-the-glass grant of `patient` to `clinician`."""
    return BreakGlassGrantFactory(clinician=clinician, patient=patient)
