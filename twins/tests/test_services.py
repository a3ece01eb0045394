"""Selectors and services below the HTTP layer: scope in SQL, transactions, race paths."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from clarity.audit.services import AuditContext
from clarity.errors import Conflict, NotAllowed, OutOfScope
from clarity.users.tests.factories import UserFactory
from patients.selectors import Access
from patients.tests.factories import grant_break_glass, make_patient
from twins import services
from twins.models import DigitalTwin, TwinRevision, TwinStatus
from twins.selectors import twin_access_for
from twins.tests.factories import make_twin


@pytest.fixture
def two_patients(clinician, other_clinician, patient_user):
    mine = make_patient(primary=clinician, user=patient_user)
    theirs = make_patient(primary=other_clinician)
    return make_twin(mine), make_twin(theirs)


def test_twin_access_reports_the_callers_level(clinician, other_clinician, admin_user, patient_user, two_patients):
    mine, _theirs = two_patients
    rescuer = UserFactory(role="clinician")
    grant_break_glass(rescuer, mine.patient)

    levels = {
        user.role + ("-bg" if user == rescuer else ""): twin_access_for(user, mine.pk).level
        for user in (clinician, admin_user, patient_user, rescuer)
    }

    assert levels == {
        "clinician": Access.PRIMARY,
        "admin": Access.ADMIN,
        "patient": Access.SELF,
        "clinician-bg": Access.BREAK_GLASS,
    }


def test_twin_access_takes_one_query(clinician, two_patients, django_assert_num_queries):
    with django_assert_num_queries(1):
        twin_access_for(clinician, two_patients[0].pk)


def test_an_out_of_scope_twin_and_a_made_up_id_cost_the_same_one_query(
    clinician, two_patients, django_assert_num_queries
):
    import uuid

    for twin_id in (two_patients[1].pk, uuid.uuid4()):
        with django_assert_num_queries(1), pytest.raises(OutOfScope):
            twin_access_for(clinician, twin_id)


def test_twin_access_hides_out_of_scope_twins_as_missing(clinician, two_patients):
    with pytest.raises(OutOfScope) as caught:
        twin_access_for(clinician, two_patients[1].pk)

    assert (caught.value.resource_type, caught.value.resource_id) == ("twin", str(two_patients[1].pk))
    # The denied event can name the twin's patient, so ?patient= finds it.
    assert caught.value.patient_id == DigitalTwin.objects.get(pk=two_patients[1].pk).patient_id


def test_twin_access_refuses_researchers(researcher, two_patients):
    with pytest.raises(NotAllowed):
        twin_access_for(researcher, two_patients[0].pk)


def test_twin_create_turns_a_lost_race_into_a_conflict(clinician, monkeypatch):
    patient = make_patient(primary=clinician)
    make_twin(patient, twin_type="psychiatric")
    # A concurrent request that passed the pre-check before this one committed.
    monkeypatch.setattr(services, "_live_twin_exists", lambda **kwargs: False)

    with pytest.raises(Conflict):
        services.twin_create(
            actor=clinician,
            patient_id=patient.pk,
            name="Race",
            twin_type="psychiatric",
            configuration={},
            ctx=AuditContext(actor=clinician),
        )

    assert DigitalTwin.objects.filter(patient=patient).count() == 1
    assert TwinRevision.objects.count() == 1


def test_twin_update_turns_a_lost_unarchive_race_into_a_conflict(clinician, monkeypatch):
    patient = make_patient(primary=clinician)
    archived = make_twin(patient, status=TwinStatus.ARCHIVED)
    make_twin(patient)
    monkeypatch.setattr(services, "_live_twin_exists", lambda **kwargs: False)

    with pytest.raises(Conflict):
        services.twin_update(
            actor=clinician,
            twin_id=archived.pk,
            data={"status": "active"},
            if_match=None,
            ctx=AuditContext(actor=clinician),
        )

    archived.refresh_from_db()
    assert (archived.status, archived.version) == (TwinStatus.ARCHIVED, 1)


def test_the_database_refuses_a_second_live_twin_of_a_type(clinician):
    patient = make_patient(primary=clinician)
    make_twin(patient)

    with pytest.raises(IntegrityError):
        DigitalTwin.objects.create(patient=patient, name="Dup", twin_type="psychiatric")


def test_twin_update_validates_configuration_keyed_by_field(clinician):
    twin = make_twin(make_patient(primary=clinician))

    with pytest.raises(ValidationError) as caught:
        services.twin_update(
            actor=clinician,
            twin_id=twin.pk,
            data={"configuration": {"simulation_granularity_hours": 0, "x": 1}},
            if_match=None,
            ctx=AuditContext(actor=clinician),
        )

    assert set(caught.value.message_dict) == {"configuration.simulation_granularity_hours", "configuration.x"}


def test_twin_update_refuses_break_glass_writes(clinician):
    patient = make_patient(primary=clinician)
    twin = make_twin(patient)
    rescuer = UserFactory(role="clinician")
    grant_break_glass(rescuer, patient)

    with pytest.raises(NotAllowed):
        services.twin_update(
            actor=rescuer, twin_id=twin.pk, data={"name": "No"}, if_match=None, ctx=AuditContext(actor=rescuer)
        )
