"""The apps' declarations of patient-owned data (patients/registry.py)."""

from django.core import checks

from interactions.models import IdempotencyRecord, InteractionLog
from patients import registry
from patients.models import BreakGlassGrant, CareTeamMembership
from twins.models import DigitalTwin, TwinRevision


def test_every_app_declares_its_patient_owned_models_and_children_come_before_what_they_point_to():
    owned = registry.owned_models()

    assert {CareTeamMembership, BreakGlassGrant, DigitalTwin, TwinRevision, InteractionLog, IdempotencyRecord} <= set(
        owned
    )
    assert owned.index(TwinRevision) < owned.index(DigitalTwin)
    assert owned.index(InteractionLog) < owned.index(DigitalTwin)


def test_a_record_reaches_its_patient_directly_or_through_another_owned_record():
    assert registry.patient_path(DigitalTwin) == "patient_id"
    assert registry.patient_path(TwinRevision) == "twin__patient_id"
    assert registry.patient_path(IdempotencyRecord) is None  # it has patient_rows() instead


def test_the_declarations_pass_the_system_check():
    assert [e for e in checks.run_checks() if e.id == "patients.E001"] == []


def test_a_model_that_would_block_a_purge_without_being_declared_fails_the_system_check(monkeypatch):
    # Given twins no longer declared as patient-owned
    declared = registry.owned_models()
    monkeypatch.setattr(registry, "owned_models", lambda: tuple(m for m in declared if m is not DigitalTwin))

    # When the system checks run
    errors = registry.check_patient_owned_models_are_declared()

    # Then the twin's PROTECT key to its patient is reported
    assert [(e.id, e.obj) for e in errors] == [("patients.E001", DigitalTwin)]
