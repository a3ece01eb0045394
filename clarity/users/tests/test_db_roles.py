"""The app's database role cannot rewrite history or change the schema (PostgreSQL only)."""

import datetime
import uuid

import pytest
from django.core.management import call_command
from django.db import ProgrammingError, connection, transaction

from clarity.users.tests.factories import UserFactory
from patients.models import CareTeamMembership, Patient


@pytest.fixture
def app_role(db):
    suffix = uuid.uuid4().hex[:8]
    app, migrator = f"clarity_app_t{suffix}", f"clarity_mig_t{suffix}"
    # CREATE ROLE and GRANT are transactional: the test's rollback removes them again.
    call_command("create_db_roles", app_role=app, migrator_role=migrator)
    return app


def _refused(sql):
    with pytest.raises(ProgrammingError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


@pytest.mark.postgres_only
def test_app_role_cannot_update_delete_or_truncate_history_nor_run_ddl(app_role):
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{app_role}"')
    try:
        for table in ("audit_auditevent", "interactions_interactionlog", "twins_twinrevision"):
            _refused(f"UPDATE {table} SET id = id WHERE false")
            _refused(f"DELETE FROM {table} WHERE false")
            _refused(f"TRUNCATE {table}")
        _refused("CREATE TABLE clarity_evil (id int)")
        _refused("ALTER TABLE patients_patient ADD COLUMN evil int")
        _refused("DROP TABLE patients_patient")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


@pytest.mark.postgres_only
def test_the_api_works_under_the_app_role(app_role, client_for):
    clinician = UserFactory(role="clinician")
    patient = Patient.objects.create(
        mrn="ROLE-1", given_name="Rae", family_name="Role", date_of_birth=datetime.date(1980, 1, 1)
    )
    CareTeamMembership.objects.create(patient=patient, clinician=clinician, role="primary")
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{app_role}"')
    try:
        client = client_for(clinician)
        assert client.get(f"/api/v1/patients/{patient.pk}/").status_code == 200
        response = client.patch(f"/api/v1/patients/{patient.pk}/", {"given_name": "Ray"}, format="json")
        assert response.status_code == 200
        from clarity.audit.chain import seal_pending, verify_chain

        assert seal_pending() >= 2  # the seal columns are the one UPDATE the app may make on audit events
        assert verify_chain().ok
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
