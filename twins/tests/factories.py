import factory

from patients.tests.factories import PatientFactory
from twins.models import DigitalTwin, TwinRevision


class DigitalTwinFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DigitalTwin

    patient = factory.SubFactory(PatientFactory)
    name = factory.Sequence(lambda n: f"Twin {n}")
    twin_type = "psychiatric"
    configuration = factory.Dict({})


class TwinRevisionFactory(factory.django.DjangoModelFactory):
    """Defaults to the twin's current version and configuration, as a service would write it."""

    class Meta:
        model = TwinRevision

    twin = factory.SubFactory(DigitalTwinFactory)
    version = factory.LazyAttribute(lambda o: o.twin.version)
    configuration = factory.LazyAttribute(lambda o: dict(o.twin.configuration))
