"""Reads for digital twins. A twin's scope is its patient's scope, applied in SQL."""

from typing import NamedTuple

from clarity.api.errors import Forbidden, OutOfScope
from patients.selectors import PatientAccess, patient_access_for, patients_visible_to

from .models import DigitalTwin, TwinRevision


class TwinAccess(NamedTuple):
    """A twin and how the caller reaches its patient (an `Access` level)."""

    twin: DigitalTwin
    patient_access: PatientAccess

    @property
    def level(self) -> str:
        return self.patient_access.level

    @property
    def break_glass(self) -> bool:
        return self.patient_access.break_glass

    def require(self, allowed: frozenset) -> None:
        """Raise Forbidden (403) unless the caller's access level is in `allowed`."""
        if self.level not in allowed:
            raise Forbidden(
                resource_type="twin", resource_id=self.twin.pk, patient_id=self.twin.patient_id, break_glass=self.break_glass
            )


def twins_visible_to(user):
    """Twins `user` may list across patients: those of patients_visible_to(user), so the scope
    rule lives in one place. Break-the-glass grants do not add to lists."""
    return DigitalTwin.objects.filter(patient__in=patients_visible_to(user))


def twin_access_for(user, twin_id, *, lock: bool = False) -> TwinAccess:
    """
    The twin `twin_id` and the caller's access level to its patient, in two queries
    (the twin, then `patient_access_for`, so the scope rule lives in one place).
    `lock` takes a row lock on the twin (use inside `transaction.atomic`).
    Raises Forbidden (403) for roles that may never read twins, OutOfScope (404) when
    the twin does not exist or its patient is not within the caller's scope.
    """
    if user.role == "researcher":
        raise Forbidden(resource_type="twin", resource_id=twin_id)
    queryset = DigitalTwin.objects.all()
    if lock:
        queryset = queryset.select_for_update()
    twin = queryset.filter(pk=twin_id).first()
    if twin is None:
        raise OutOfScope("twin", twin_id)
    try:
        access = patient_access_for(user, twin.patient_id)
    except OutOfScope:
        # Answer exactly as for a twin that does not exist: no existence oracle.
        raise OutOfScope("twin", twin_id) from None
    twin.patient = access.patient
    return TwinAccess(twin, access)


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
