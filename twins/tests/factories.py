"""The one set of test data for twins: factory_boy factories, and `make_twin()` built on them."""

import factory

from patients.tests.factories import PatientFactory
from twins.models import DigitalTwin, TwinRevision, TwinStatus, TwinType

VALID_CONFIGURATION = {
    "simulation_granularity_hours": 24,
    "prediction_models_enabled": ["risk_relapse", "symptom_forecast"],
    "data_sources_enabled": ["actigraphy", "symptoms"],
    "alert_thresholds": {"phq9_change": 5, "gad7_change": 4, "suicide_risk": 0.3, "sleep_hours_min": 5.5},
}


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


def make_twin(
    patient,
    *,
    twin_type=TwinType.PSYCHIATRIC,
    status=TwinStatus.ACTIVE,
    configuration=None,
    created_by=None,
    revisions=1,
    name="Mood course",
) -> DigitalTwin:
    """
    An active twin at version `revisions` with revisions 1 to `revisions`, as twin_create and
    `revisions - 1` configuration changes leave it: the last revision holds the twin's
    configuration, each earlier one a different `simulation_granularity_hours`.
    """
    configuration = dict(VALID_CONFIGURATION) if configuration is None else configuration
    twin = DigitalTwinFactory(
        patient=patient,
        name=name,
        twin_type=twin_type,
        status=status,
        configuration=configuration,
        version=revisions,
        created_by=created_by,
    )
    for version in range(1, revisions + 1):
        TwinRevisionFactory(
            twin=twin,
            version=version,
            configuration=configuration
            if version == revisions
            else {**configuration, "simulation_granularity_hours": version},
            changed_by=created_by,
        )
    return twin
