"""Database rules for patient tables that CHECK constraints cannot hold (they read the
clock or another table), as trigger SQL shared by the migrations that create and restore them."""

from clarity.dbtriggers import row_check_sql

DOB_NOT_FUTURE = row_check_sql(
    "patients_patient",
    "patients_patient_dob_not_future",
    when_sqlite="NEW.date_of_birth > date('now')",
    when_postgresql="NEW.date_of_birth > CURRENT_DATE",
    message="patients_patient_dob_not_future",
    columns="date_of_birth",
)
USER_IS_PATIENT = row_check_sql(
    "patients_patient",
    "patients_patient_user_is_patient",
    when_sqlite="NEW.user_id IS NOT NULL AND (SELECT role FROM users_user WHERE id = NEW.user_id) IS NOT 'patient'",
    when_postgresql=(
        "NEW.user_id IS NOT NULL AND (SELECT role FROM users_user WHERE id = NEW.user_id) IS DISTINCT FROM 'patient'"
    ),
    message="patients_patient_user_is_patient",
    columns="user_id",
)
CLINICIAN_ROLE = row_check_sql(
    "patients_careteammembership",
    "patients_careteammembership_clinician_role",
    when_sqlite="(SELECT role FROM users_user WHERE id = NEW.clinician_id) IS NOT 'clinician'",
    when_postgresql="(SELECT role FROM users_user WHERE id = NEW.clinician_id) IS DISTINCT FROM 'clinician'",
    message="patients_careteammembership_clinician_role",
    columns="clinician_id",
)
PATIENT_TABLE_RULES = (DOB_NOT_FUTURE, USER_IS_PATIENT)
