import datetime

import factory

from clarity.users.tests.factories import UserFactory
from patients.models import CareTeamMembership, Patient


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
