"""Patient, care-team and break-glass invariants: refused by the database, reported by full_clean()."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from clarity.tests.helpers import validation_messages
from clarity.users.tests.factories import UserFactory
from patients.models import BreakGlassGrant, CareTeamMembership, Patient
from patients.tests.factories import CareTeamMembershipFactory, PatientFactory

pytestmark = pytest.mark.django_db

TOMORROW = datetime.timedelta(days=1)


def patient_row(**overrides):
    values = {
        "mrn": "MRN-X",
        "given_name": "Ada",
        "family_name": "Byron",
        "date_of_birth": datetime.date(1980, 5, 1),
        "sex": "female",
    }
    return {**values, **overrides}


# --- Patient: the database ------------------------------------------------------------


def test_duplicate_mrn_is_refused_by_the_database():
    PatientFactory(mrn="MRN-1")
    with (
        pytest.raises(IntegrityError, match=r"patients_patient_mrn_unique|patients_patient\.mrn"),
        transaction.atomic(),
    ):
        Patient.objects.create(**patient_row(mrn="MRN-1"))


def test_empty_mrn_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="patients_patient_mrn_required"), transaction.atomic():
        Patient.objects.create(**patient_row(mrn=""))


def test_empty_names_are_refused_by_the_database():
    with pytest.raises(IntegrityError, match="patients_patient_names_required"), transaction.atomic():
        Patient.objects.create(**patient_row(family_name=""))


def test_sex_outside_the_set_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="patients_patient_sex_valid"), transaction.atomic():
        Patient.objects.create(**patient_row(sex="other"))


def test_status_outside_the_set_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="patients_patient_status_valid"), transaction.atomic():
        Patient.objects.create(**patient_row(status="deleted"))


def test_date_of_birth_before_1900_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="patients_patient_dob_after_1900"), transaction.atomic():
        Patient.objects.create(**patient_row(date_of_birth=datetime.date(1899, 12, 31)))


def test_date_of_birth_in_the_future_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="patients_patient_dob_not_future"), transaction.atomic():
        Patient.objects.create(**patient_row(date_of_birth=timezone.localdate() + TOMORROW))


def test_moving_a_date_of_birth_into_the_future_is_refused_by_the_database():
    patient = PatientFactory()
    with pytest.raises(IntegrityError, match="patients_patient_dob_not_future"), transaction.atomic():
        Patient.objects.filter(pk=patient.pk).update(date_of_birth=timezone.localdate() + TOMORROW)


def test_version_zero_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="patients_patient_version_positive"), transaction.atomic():
        Patient.objects.create(**patient_row(version=0))


def test_linking_a_patient_to_a_non_patient_user_is_refused_by_the_database():
    clinician = UserFactory(role="clinician")
    with pytest.raises(IntegrityError, match="patients_patient_user_is_patient"), transaction.atomic():
        Patient.objects.create(**patient_row(user=clinician))


def test_relinking_a_patient_to_a_non_patient_user_is_refused_by_the_database():
    patient = PatientFactory(user=UserFactory(role="patient"))
    with pytest.raises(IntegrityError, match="patients_patient_user_is_patient"), transaction.atomic():
        Patient.objects.filter(pk=patient.pk).update(user=UserFactory(role="researcher"))


def test_a_patient_linked_to_a_patient_user_is_accepted():
    user = UserFactory(role="patient")

    patient = Patient.objects.create(**patient_row(user=user))

    assert patient.user == user


# --- Patient: full_clean() --------------------------------------------------------------


def test_full_clean_reports_a_duplicate_mrn():
    PatientFactory(mrn="MRN-1")
    assert "mrn" in validation_messages(PatientFactory.build(mrn="MRN-1"))


def test_full_clean_reports_an_empty_mrn():
    assert "mrn" in validation_messages(PatientFactory.build(mrn=""))


def test_full_clean_reports_empty_names():
    assert "given_name" in validation_messages(PatientFactory.build(given_name=""))


def test_full_clean_reports_a_sex_outside_the_set():
    assert "sex" in validation_messages(PatientFactory.build(sex="other"))


def test_full_clean_reports_a_status_outside_the_set():
    assert "status" in validation_messages(PatientFactory.build(status="deleted"))


def test_full_clean_reports_a_date_of_birth_before_1900():
    errors = validation_messages(PatientFactory.build(date_of_birth=datetime.date(1899, 12, 31)))
    assert errors["date_of_birth"] == ["Date of birth cannot be before 1900-01-01."]


def test_full_clean_reports_a_date_of_birth_in_the_future():
    errors = validation_messages(PatientFactory.build(date_of_birth=timezone.localdate() + TOMORROW))
    assert errors["date_of_birth"] == ["Date of birth cannot be in the future."]


def test_full_clean_reports_version_zero():
    errors = validation_messages(PatientFactory.build(version=0))
    assert "patients_patient_version_positive" in str(errors)


def test_full_clean_reports_a_non_patient_user():
    errors = validation_messages(PatientFactory.build(user=UserFactory(role="clinician")))
    assert errors["user"] == ["A patient record can only be linked to a patient-role user."]


def test_full_clean_accepts_a_factory_patient():
    PatientFactory.build().full_clean()


# --- Care team: the database -------------------------------------------------------------


def test_a_clinician_twice_on_one_care_team_is_refused_by_the_database():
    membership = CareTeamMembershipFactory()
    with (
        pytest.raises(
            IntegrityError, match=r"patients_careteammembership_unique_member|patients_careteammembership\.clinician_id"
        ),
        transaction.atomic(),
    ):
        CareTeamMembership.objects.create(patient=membership.patient, clinician=membership.clinician, role="primary")


def test_a_second_primary_clinician_is_refused_by_the_database():
    first = CareTeamMembershipFactory(role="primary")
    with (
        pytest.raises(
            IntegrityError, match=r"patients_careteammembership_one_primary|patients_careteammembership\.patient_id"
        ),
        transaction.atomic(),
    ):
        CareTeamMembership.objects.create(
            patient=first.patient, clinician=UserFactory(role="clinician"), role="primary"
        )


def test_several_consulting_clinicians_beside_one_primary_are_accepted():
    patient = PatientFactory()
    CareTeamMembershipFactory(patient=patient, role="primary")

    CareTeamMembership.objects.bulk_create(
        [
            CareTeamMembership(patient=patient, clinician=UserFactory(role="clinician"), role="consulting")
            for _ in range(2)
        ]
    )

    assert patient.care_team.count() == 3


def test_care_team_role_outside_the_set_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="patients_careteammembership_role_valid"), transaction.atomic():
        CareTeamMembership.objects.create(
            patient=PatientFactory(), clinician=UserFactory(role="clinician"), role="observer"
        )


def test_a_non_clinician_on_a_care_team_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="patients_careteammembership_clinician_role"), transaction.atomic():
        CareTeamMembership.objects.create(patient=PatientFactory(), clinician=UserFactory(role="researcher"))


def test_swapping_a_care_team_clinician_for_a_non_clinician_is_refused_by_the_database():
    membership = CareTeamMembershipFactory()
    with pytest.raises(IntegrityError, match="patients_careteammembership_clinician_role"), transaction.atomic():
        CareTeamMembership.objects.filter(pk=membership.pk).update(clinician=UserFactory(role="patient"))


# --- Care team: full_clean() ----------------------------------------------------------------


def test_full_clean_reports_a_clinician_twice_on_one_care_team():
    membership = CareTeamMembershipFactory()
    duplicate = CareTeamMembership(patient=membership.patient, clinician=membership.clinician, role="consulting")
    assert "__all__" in validation_messages(duplicate)


def test_full_clean_reports_a_second_primary_clinician():
    first = CareTeamMembershipFactory(role="primary")
    second = CareTeamMembership(patient=first.patient, clinician=UserFactory(role="clinician"), role="primary")
    assert "patients_careteammembership_one_primary" in str(validation_messages(second))


def test_full_clean_accepts_a_second_consulting_clinician():
    first = CareTeamMembershipFactory(role="primary")
    CareTeamMembershipFactory(patient=first.patient)

    CareTeamMembership(patient=first.patient, clinician=UserFactory(role="clinician"), role="consulting").full_clean()


def test_full_clean_reports_a_care_team_role_outside_the_set():
    assert "role" in validation_messages(CareTeamMembershipFactory.build(role="observer"))


def test_full_clean_reports_a_non_clinician_on_a_care_team():
    membership = CareTeamMembership(patient=PatientFactory(), clinician=UserFactory(role="patient"))
    assert validation_messages(membership)["clinician"] == ["Only clinician-role users can join a care team."]


# --- Break-glass grants -----------------------------------------------------------------------


def grant_row(**overrides):
    now = timezone.now()
    values = {
        "patient": PatientFactory(),
        "clinician": UserFactory(role="clinician"),
        "reason": "Patient in crisis at the emergency department",
        "created_at": now,
        "expires_at": now + datetime.timedelta(hours=4),
    }
    return {**values, **overrides}


def test_a_break_glass_reason_under_20_characters_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="patients_breakglassgrant_reason_min_length"), transaction.atomic():
        BreakGlassGrant.objects.create(**grant_row(reason="x" * 19))


def test_a_break_glass_grant_expiring_before_it_starts_is_refused_by_the_database():
    now = timezone.now()
    with pytest.raises(IntegrityError, match="patients_breakglassgrant_expires_after_created"), transaction.atomic():
        BreakGlassGrant.objects.create(**grant_row(created_at=now, expires_at=now))


def test_full_clean_reports_a_break_glass_reason_under_20_characters():
    grant = BreakGlassGrant(**grant_row(reason="x" * 19))
    assert "patients_breakglassgrant_reason_min_length" in str(validation_messages(grant))


def test_full_clean_reports_a_break_glass_grant_expiring_before_it_starts():
    now = timezone.now()
    grant = BreakGlassGrant(**grant_row(created_at=now, expires_at=now - datetime.timedelta(seconds=1)))
    assert "patients_breakglassgrant_expires_after_created" in str(validation_messages(grant))


def test_full_clean_accepts_a_break_glass_reason_of_20_characters():
    BreakGlassGrant(**grant_row(reason="x" * 20)).full_clean()
