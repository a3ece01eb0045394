from django.db import migrations

from clarity.dbtriggers import row_check


class Migration(migrations.Migration):
    """Rules a CHECK constraint cannot hold because they read the clock or another table."""

    dependencies = [("patients", "0001_initial"), ("users", "0001_initial")]

    operations = [
        row_check(
            "patients_patient",
            "patients_patient_dob_not_future",
            when_sqlite="NEW.date_of_birth > date('now')",
            when_postgresql="NEW.date_of_birth > CURRENT_DATE",
            message="patients_patient_dob_not_future",
            columns="date_of_birth",
        ),
        row_check(
            "patients_patient",
            "patients_patient_user_is_patient",
            when_sqlite="NEW.user_id IS NOT NULL AND (SELECT role FROM users_user WHERE id = NEW.user_id) IS NOT 'patient'",
            when_postgresql=(
                "NEW.user_id IS NOT NULL AND "
                "(SELECT role FROM users_user WHERE id = NEW.user_id) IS DISTINCT FROM 'patient'"
            ),
            message="patients_patient_user_is_patient",
            columns="user_id",
        ),
        row_check(
            "patients_careteammembership",
            "patients_careteammembership_clinician_role",
            when_sqlite="(SELECT role FROM users_user WHERE id = NEW.clinician_id) IS NOT 'clinician'",
            when_postgresql="(SELECT role FROM users_user WHERE id = NEW.clinician_id) IS DISTINCT FROM 'clinician'",
            message="patients_careteammembership_clinician_role",
            columns="clinician_id",
        ),
    ]
