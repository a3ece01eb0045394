from django.db import migrations

from clarity.dbtriggers import vendor_sql
from patients.dbrules import CLINICIAN_ROLE, DOB_NOT_FUTURE, USER_IS_PATIENT


def _op(sql):
    return vendor_sql(
        sqlite=sql["sqlite"][0],
        postgresql=sql["postgresql"][0],
        reverse_sqlite=sql["sqlite"][1],
        reverse_postgresql=sql["postgresql"][1],
    )


class Migration(migrations.Migration):
    """Rules a CHECK constraint cannot hold because they read the clock or another table."""

    dependencies = [("patients", "0001_initial"), ("users", "0001_initial")]

    operations = [_op(DOB_NOT_FUTURE), _op(USER_IS_PATIENT), _op(CLINICIAN_ROLE)]
