"""Reads for digital twins. A twin's scope is its patient's scope, applied in SQL."""

from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from clarity.api.errors import Forbidden, OutOfScope
from clarity.users.models import Role
from patients.selectors import Access, clinician_level

from .models import DigitalTwin, TwinRevision


class TwinAccess(NamedTuple):
    """A twin and how the caller reaches its patient (an `Access` level)."""

    twin: DigitalTwin
    level: str

    @property
    def break_glass(self) -> bool:
        return self.level == Access.BREAK_GLASS

    def require(self, allowed: frozenset) -> None:
        """Raise Forbidden (403) unless the caller's access level is in `allowed`."""
        if self.level not in allowed:
            raise Forbidden(
                resource_type="twin",
                resource_id=self.twin.pk,
                patient_id=self.twin.patient_id,
                break_glass=self.break_glass,
            )


# The twin and every fact the caller's access depends on, in one statement, the same for
# every role and for a twin that exists or not: an out-of-scope twin and a made-up id cost
# the same work (one indexed lookup, no second query), so timing is no existence oracle.
_TWIN_ACCESS_SQL = (
    "SELECT t.*,"
    " (SELECT m.role FROM patients_careteammembership m"
    "   WHERE m.patient_id = t.patient_id AND m.clinician_id = %s) AS _team_role,"  # unique (patient, clinician)
    " EXISTS (SELECT 1 FROM patients_breakglassgrant g"
    "   WHERE g.patient_id = t.patient_id AND g.clinician_id = %s AND g.expires_at > %s) AS _glass,"
    " EXISTS (SELECT 1 FROM patients_patient p WHERE p.id = t.patient_id AND p.user_id = %s) AS _own"
    " FROM twins_digitaltwin t WHERE t.id = %s"
)


def twin_access_for(user, twin_id, *, lock: bool = False) -> TwinAccess:
    """
    The twin `twin_id` and the caller's access level to its patient, in one query; the
    levels are those of `patient_access_for` (admin, primary / care team / break-the-glass
    for a clinician, self for the patient's own login). `lock` takes a row lock on the twin
    (use inside `transaction.atomic`).
    Raises Forbidden (403) for roles that may never read twins, OutOfScope (404) when
    the twin does not exist or its patient is not within the caller's scope (naming the
    patient on the denied event when the twin exists, so "who tried to see this patient's
    records" is answerable; the caller gets the same 404 either way).
    """
    if user.role == Role.RESEARCHER:
        raise Forbidden(resource_type="twin", resource_id=twin_id)
    pk = DigitalTwin._meta.pk
    try:
        twin_id = pk.to_python(twin_id)
    except ValidationError:
        raise OutOfScope("twin", twin_id) from None
    sql = _TWIN_ACCESS_SQL
    if lock and connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF t"
    user_id = pk.get_db_prep_value(user.pk, connection)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    twin = next(
        iter(DigitalTwin.objects.raw(sql, [user_id, user_id, now, user_id, pk.get_db_prep_value(twin_id, connection)])),
        None,
    )
    if twin is None:
        raise OutOfScope("twin", twin_id)
    if user.role == Role.ADMIN:
        level = Access.ADMIN
    elif user.role == Role.CLINICIAN:
        level = clinician_level(twin._team_role, bool(twin._glass))
    else:
        level = Access.SELF if twin._own else None
    if level is None:
        raise OutOfScope("twin", twin_id, patient_id=twin.patient_id)
    return TwinAccess(twin, level)


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
