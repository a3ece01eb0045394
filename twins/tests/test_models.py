"""Twin and revision invariants: refused by the database, reported by full_clean()."""

import pytest
from django.db import IntegrityError, transaction

from clarity.tests.helpers import validation_messages
from patients.tests.factories import PatientFactory
from twins.models import DigitalTwin, TwinRevision
from twins.tests.factories import VALID_CONFIGURATION, DigitalTwinFactory, TwinRevisionFactory

pytestmark = pytest.mark.django_db


def twin_row(**overrides):
    return {"patient": PatientFactory(), "name": "Mood course", "twin_type": "psychiatric", **overrides}


# --- Digital twin: the database --------------------------------------------------------


def test_a_second_live_twin_of_the_same_type_is_refused_by_the_database():
    twin = DigitalTwinFactory(status="active")
    with (
        pytest.raises(IntegrityError, match=r"twins_digitaltwin_one_live_per_type|twins_digitaltwin\.patient_id"),
        transaction.atomic(),
    ):
        DigitalTwin.objects.create(**twin_row(patient=twin.patient, status="paused"))


def test_an_archived_twin_does_not_block_a_new_live_twin_of_its_type():
    archived = DigitalTwinFactory(status="archived")

    DigitalTwin.objects.create(**twin_row(patient=archived.patient, status="active"))

    assert archived.patient.twins.count() == 2


def test_live_twins_of_different_types_are_accepted():
    twin = DigitalTwinFactory(twin_type="psychiatric")

    DigitalTwin.objects.create(**twin_row(patient=twin.patient, twin_type="biometric"))

    assert twin.patient.twins.count() == 2


def test_twin_type_outside_the_set_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="twins_digitaltwin_twin_type_valid"), transaction.atomic():
        DigitalTwin.objects.create(**twin_row(twin_type="astrological"))


def test_twin_status_outside_the_set_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="twins_digitaltwin_status_valid"), transaction.atomic():
        DigitalTwin.objects.create(**twin_row(status="deleted"))


def test_twin_version_zero_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="twins_digitaltwin_version_positive"), transaction.atomic():
        DigitalTwin.objects.create(**twin_row(version=0))


def test_an_empty_twin_name_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="twins_digitaltwin_name_required"), transaction.atomic():
        DigitalTwin.objects.create(**twin_row(name=""))


def test_a_configuration_that_is_not_an_object_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="twins_digitaltwin_configuration_object"), transaction.atomic():
        DigitalTwin.objects.create(**twin_row(configuration=["risk_relapse"]))


def test_changing_a_configuration_to_a_non_object_is_refused_by_the_database():
    twin = DigitalTwinFactory()
    with pytest.raises(IntegrityError, match="twins_digitaltwin_configuration_object"), transaction.atomic():
        DigitalTwin.objects.filter(pk=twin.pk).update(configuration="24h")


# --- Digital twin: full_clean() ------------------------------------------------------------


def test_full_clean_accepts_an_empty_and_a_full_configuration():
    DigitalTwinFactory.build(patient=PatientFactory()).full_clean()
    DigitalTwinFactory.build(patient=PatientFactory(), configuration=VALID_CONFIGURATION).full_clean()


def test_full_clean_reports_a_second_live_twin_of_the_same_type():
    twin = DigitalTwinFactory()
    errors = validation_messages(DigitalTwin(**twin_row(patient=twin.patient)))
    assert "twins_digitaltwin_one_live_per_type" in str(errors)


def test_full_clean_accepts_a_live_twin_beside_an_archived_one():
    archived = DigitalTwinFactory(status="archived")
    DigitalTwin(**twin_row(patient=archived.patient)).full_clean()


def test_full_clean_reports_a_twin_type_outside_the_set():
    assert "twin_type" in validation_messages(DigitalTwin(**twin_row(twin_type="astrological")))


def test_full_clean_reports_a_twin_status_outside_the_set():
    assert "status" in validation_messages(DigitalTwin(**twin_row(status="deleted")))


def test_full_clean_reports_twin_version_zero():
    assert "twins_digitaltwin_version_positive" in str(validation_messages(DigitalTwin(**twin_row(version=0))))


def test_full_clean_reports_an_empty_twin_name():
    assert "name" in validation_messages(DigitalTwin(**twin_row(name="")))


def test_full_clean_reports_a_configuration_that_is_not_an_object():
    errors = validation_messages(DigitalTwin(**twin_row(configuration=["risk_relapse"])))
    assert errors["configuration"] == ["configuration: Must be a JSON object."]


def test_full_clean_reports_configuration_keys_and_values_outside_the_schema():
    configuration = {"simulation_granularity_hours": 169, "colour": "blue", "alert_thresholds": {"suicide_risk": 2}}
    errors = validation_messages(DigitalTwin(**twin_row(configuration=configuration)))
    assert sorted(errors["configuration"]) == [
        "configuration.alert_thresholds.suicide_risk: Must be a number from 0 to 1.",
        "configuration.colour: Unknown key.",
        "configuration.simulation_granularity_hours: Must be an integer from 1 to 168.",
    ]


# --- Twin revision --------------------------------------------------------------------------


def test_a_second_revision_with_the_same_version_is_refused_by_the_database():
    revision = TwinRevisionFactory()
    with (
        pytest.raises(IntegrityError, match=r"twins_twinrevision_unique_version|twins_twinrevision\.twin_id"),
        transaction.atomic(),
    ):
        TwinRevision.objects.create(twin=revision.twin, version=revision.version, configuration={})


def test_revision_version_zero_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="twins_twinrevision_version_positive"), transaction.atomic():
        TwinRevision.objects.create(twin=DigitalTwinFactory(), version=0, configuration={})


def test_full_clean_reports_a_second_revision_with_the_same_version():
    revision = TwinRevisionFactory()
    duplicate = TwinRevision(twin=revision.twin, version=revision.version, configuration={})
    assert "__all__" in validation_messages(duplicate)


def test_full_clean_reports_revision_version_zero():
    revision = TwinRevision(twin=DigitalTwinFactory(), version=0, configuration={})
    assert "twins_twinrevision_version_positive" in str(validation_messages(revision))


def test_full_clean_reports_a_revision_configuration_outside_the_schema():
    revision = TwinRevision(twin=DigitalTwinFactory(), version=1, configuration={"colour": "blue"})
    assert validation_messages(revision)["configuration"] == ["configuration.colour: Unknown key."]


def test_full_clean_accepts_a_factory_revision():
    TwinRevisionFactory(twin=DigitalTwinFactory(configuration=VALID_CONFIGURATION)).full_clean()


# --- Twin revision: append-only -----------------------------------------------------------------


def test_saving_a_changed_revision_is_refused_by_the_database():
    revision = TwinRevisionFactory()
    revision.configuration = {"simulation_granularity_hours": 1}
    with pytest.raises(IntegrityError, match="twins_twinrevision is append-only"), transaction.atomic():
        revision.save()


def test_updating_revisions_in_bulk_is_refused_by_the_database():
    revision = TwinRevisionFactory()
    with pytest.raises(IntegrityError, match="twins_twinrevision is append-only"), transaction.atomic():
        TwinRevision.objects.filter(pk=revision.pk).update(version=2)


def test_deleting_a_revision_is_refused_by_the_database():
    revision = TwinRevisionFactory()
    with pytest.raises(IntegrityError, match="twins_twinrevision is append-only"), transaction.atomic():
        revision.delete()


def test_deleting_revisions_in_bulk_is_refused_by_the_database():
    TwinRevisionFactory()
    with pytest.raises(IntegrityError, match="twins_twinrevision is append-only"), transaction.atomic():
        TwinRevision.objects.all().delete()
    assert TwinRevision.objects.count() == 1
