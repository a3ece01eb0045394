import factory
from django.utils import timezone

from interactions.models import InteractionLog
from patients.tests.factories import PatientFactory


class InteractionLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InteractionLog

    twin = None
    # Given a twin, the entry belongs to the twin's patient (the database insists on it).
    patient = factory.Maybe(
        "twin",
        yes_declaration=factory.LazyAttribute(lambda o: o.twin.patient),
        no_declaration=factory.SubFactory(PatientFactory),
    )
    kind = "note"
    payload = factory.Dict({"text": "x"})
    occurred_at = factory.LazyFunction(timezone.now)
