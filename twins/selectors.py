"""Reads for digital twins. A twin's scope is its patient's scope, applied in SQL."""

from django.core.exceptions import ValidationError
from django.db import connections, router
from django.utils import timezone

from clarity.errors import NotAllowed, OutOfScope
from clarity.fixed_sql import Columns
from patients.selectors import CLINICIAN_ACCESS_FACTS, Access, RecordAccess, clinician_level

from .models import DigitalTwin, TwinRevision

# The twin and every fact the caller's access depends on, in one statement, the same for
# every role and for a twin that exists or not: an out-of-scope twin and a made-up id cost
# the same work, so timing is no existence oracle. For that the read drives the statement
# from the requested id (a LEFT JOIN) and runs the access subqueries either way, keyed by
# the twin's patient or, for no twin, by the requested id itself (which matches nothing):
# with prepared statements, skipping three index lookups for a made-up id made an
# existing one measurably slower (AUC 0.57). A locking write (FOR UPDATE cannot take the
# nullable side of an outer join) reads the twin directly. The twin's columns are decoded
# into a model only once access is granted.
_TWIN = Columns(DigitalTwin, tuple(field.attname for field in DigitalTwin._meta.concrete_fields))
_PATIENT_ID = _TWIN.names.index("patient_id")
# A clinician's facts, then whether the caller is the patient's own login.
_ACCESS_FACTS = (
    f"{CLINICIAN_ACCESS_FACTS},"  # noqa: S608 - fixed names
    " EXISTS (SELECT 1 FROM patients_patient p WHERE p.id = {patient} AND p.user_id = %s)"
)
_TWIN_READ_SQL = (
    f"SELECT {_TWIN.sql('t')},{_ACCESS_FACTS.format(patient='COALESCE(t.patient_id, q.id)')}"  # noqa: S608
    " FROM (SELECT %s AS id) q LEFT JOIN twins_digitaltwin t ON t.id = q.id"
)
_TWIN_LOCK_SQL = (
    f"SELECT {_TWIN.sql('t')},{_ACCESS_FACTS.format(patient='t.patient_id')}"  # noqa: S608
    " FROM twins_digitaltwin t WHERE t.id = %s"
)


def twin_access_for(user, twin_id, *, lock: bool = False) -> RecordAccess:
    """
    The twin `twin_id` and the caller's access level to its patient, in one query; the
    levels are those of `patient_access_for` (admin, primary / care team / break-the-glass
    for a clinician, self for the patient's own login). `lock` takes a row lock on the twin
    (use inside `transaction.atomic`).
    Raises NotAllowed (403) for roles that may never read twins, OutOfScope (404) when
    the twin does not exist or its patient is not within the caller's scope (naming the
    patient on the denied event when the twin exists, so "who tried to see this patient's
    records" is answerable; the caller gets the same 404 either way).
    """
    if user.is_researcher:
        raise NotAllowed(resource_type="twin", resource_id=twin_id)
    pk = DigitalTwin._meta.pk
    try:
        twin_id = pk.to_python(twin_id)
    except ValidationError:
        raise OutOfScope("twin", twin_id) from None
    alias = router.db_for_read(DigitalTwin)
    connection = connections[alias]
    user_id = pk.get_db_prep_value(user.pk, connection)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    twin_key = pk.get_db_prep_value(twin_id, connection)
    if lock:
        sql, params = _TWIN_LOCK_SQL, [user_id, user_id, now, user_id, twin_key]
        if connection.features.has_select_for_update_of:
            sql += " FOR UPDATE OF t"
    else:
        sql, params = _TWIN_READ_SQL, [user_id, user_id, now, user_id, twin_key]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None or row[0] is None:
        raise OutOfScope("twin", twin_id)
    width = len(_TWIN.names)
    team_role, glass, own = row[width], row[width + 1], row[width + 2]
    if user.is_admin:
        level = Access.ADMIN
    elif user.is_clinician:
        level = clinician_level(team_role, bool(glass))
    else:
        level = Access.SELF if own else None
    if level is None:
        raise OutOfScope("twin", twin_id, patient_id=pk.to_python(row[_PATIENT_ID]))
    twin = _TWIN.instance(alias, row[:width])
    return RecordAccess(twin, level, "twin", twin.patient_id)


def twins_of_patient(patient_id):
    """A patient's twins; call only after `patient_access_for` has admitted the caller."""
    return DigitalTwin.objects.filter(patient_id=patient_id)


def revisions_of_twin(twin_id):
    """A twin's revisions; call only after `twin_access_for` has admitted the caller."""
    return TwinRevision.objects.filter(twin_id=twin_id)


# --- De-identified research datasets (clarity/research) ---------------------------------
def patients_with_twin_type(twin_type: str):
    """Ids of patients with a twin of `twin_type` (any status), as a subquery."""
    return DigitalTwin.objects.filter(twin_type=twin_type).values("patient_id")


def research_twin_facts(patient_ids):
    """(patient_id, twin_type, status, created_at, id) of the patients' twins: no name, no
    configuration, no state (those may carry text). Callers check access first."""
    return (
        DigitalTwin.objects.filter(patient_id__in=patient_ids)
        .order_by("patient_id", "created_at", "id")
        .values_list("patient_id", "twin_type", "status", "created_at", "id")
    )
