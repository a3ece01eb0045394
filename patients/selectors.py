"""Reads for patients: the access scope lives here and is applied in SQL."""

import re
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, prefetch_related_objects
from django.utils import timezone

from clarity.api.errors import Forbidden, OutOfScope
from clarity.crypto import blind_index

from .models import CareTeamMembership, Patient

PHONE_LIKE = re.compile(r"^\+[0-9 ().-]{2,20}$")


class Access:
    ADMIN = "admin"
    PRIMARY = "primary"
    CARE_TEAM = "care_team"
    SELF = "self"
    BREAK_GLASS = "break_glass"

    WRITERS = frozenset({ADMIN, PRIMARY, CARE_TEAM})
    MANAGERS = frozenset({ADMIN, PRIMARY})


class PatientAccess(NamedTuple):
    patient: Patient
    level: str

    @property
    def break_glass(self) -> bool:
        return self.level == Access.BREAK_GLASS

    def require(self, allowed: frozenset, action: str = "") -> None:
        """Raise Forbidden (403) unless the caller's access level is in `allowed`."""
        if self.level not in allowed:
            raise Forbidden(
                resource_type="patient",
                resource_id=self.patient.pk,
                patient_id=self.patient.pk,
                break_glass=self.break_glass,
            )


def patients_visible_to(user):
    """Patients whose records `user` may list. Break-the-glass grants do not add to lists."""
    queryset = Patient.objects.all()
    if user.role == "admin":
        return queryset
    if user.role == "clinician":
        return queryset.filter(Exists(CareTeamMembership.objects.filter(patient=OuterRef("pk"), clinician=user)))
    if user.role == "patient":
        return queryset.filter(user=user)
    return queryset.none()


def search_filter(term: str) -> Q:
    """`?search=`: a name prefix or exact MRN; an email or E.164 phone matches its blind index exactly."""
    if "@" in term:
        return Q(email_bidx=blind_index(term, "email"))
    if PHONE_LIKE.match(term):
        return Q(phone_bidx=blind_index(term, "phone")) | Q(mrn=term)
    return name_prefix_filter(term) | Q(mrn=term)


def name_prefix_filter(term: str) -> Q:
    """A given- or family-name prefix, case-insensitive (the API's `?search=`, FHIR's `name`)."""
    return Q(family_name__istartswith=term) | Q(given_name__istartswith=term)


def care_team_prefetch():
    return Prefetch("care_team", queryset=CareTeamMembership.objects.order_by("created_at", "id"))


def with_care_team(queryset):
    return queryset.prefetch_related(care_team_prefetch())


# The hot path of every patient-scoped request, as one hand-written statement: the ORM
# spent ~3 ms building and compiling the equivalent annotated queryset per request
# (README "Performance"), several times the query's own cost.
_CLINICIAN_ACCESS_SQL = (
    "SELECT p.*,"
    " (SELECT m.role FROM patients_careteammembership m"
    "   WHERE m.patient_id = p.id AND m.clinician_id = %s) AS _team_role,"  # unique (patient, clinician): <= 1 row
    " EXISTS (SELECT 1 FROM patients_breakglassgrant g"
    "   WHERE g.patient_id = p.id AND g.clinician_id = %s AND g.expires_at > %s) AS _glass"
    " FROM patients_patient p WHERE p.id = %s"
)


def _clinician_patient(user, patient_id, *, lock: bool):
    pk = Patient._meta.pk
    sql = _CLINICIAN_ACCESS_SQL
    if lock and connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF p"
    params = [
        pk.get_db_prep_value(user.pk, connection),
        pk.get_db_prep_value(user.pk, connection),
        connection.ops.adapt_datetimefield_value(timezone.now()),
        pk.get_db_prep_value(patient_id, connection),
    ]
    patient = next(iter(Patient.objects.raw(sql, params)), None)
    if patient is None:
        return None, None, False
    level = clinician_level(patient._team_role, patient._glass)
    return (patient, level, True) if level else (None, None, True)


def clinician_level(team_role: str | None, glass: bool) -> str | None:
    """A clinician's access level from their care-team role and a live break-the-glass grant (None: no access)."""
    if team_role == "primary":
        return Access.PRIMARY
    if team_role:
        return Access.CARE_TEAM
    return Access.BREAK_GLASS if glass else None


def patient_access_for(user, patient_id, *, with_team: bool = False, lock: bool = False) -> PatientAccess:
    """
    The patient `patient_id` and how `user` may reach it, in one query (plus one for the
    care team with `with_team`). Raises Forbidden (403) for roles that may never read
    patients, OutOfScope (404) when the patient does not exist or is outside the caller's scope.
    """
    if user.role == "researcher":
        raise Forbidden(resource_type="patient", resource_id=patient_id)
    try:
        patient_id = Patient._meta.pk.to_python(patient_id)
    except ValidationError:
        raise OutOfScope("patient", patient_id) from None
    patient, level, exists = None, None, None
    if user.role == "clinician":
        # The statement tells whether the patient exists: a made-up id and an out-of-scope
        # patient then cost the same one query (no timing oracle, issue #11 item 16).
        patient, level, exists = _clinician_patient(user, patient_id, lock=lock)
    elif user.role in ("admin", "patient"):
        # One row at most (a pk lookup): no ORDER BY, so Meta.ordering is neither compiled nor sorted on.
        queryset = Patient.objects.order_by().filter(pk=patient_id)
        if lock:
            queryset = queryset.select_for_update(of=("self",))
        if user.role == "patient":
            queryset = queryset.filter(user=user)
        patient = queryset.first()
        level = Access.ADMIN if user.role == "admin" else Access.SELF
    if patient is None:
        # Record the patient on the denied event when it exists, so "who tried to see this
        # patient" is answerable; the caller still gets the same 404 either way.
        if exists is None:
            exists = Patient.objects.filter(pk=patient_id).exists()
        raise OutOfScope("patient", patient_id, patient_id=patient_id if exists else None)
    if with_team:
        prefetch_related_objects([patient], care_team_prefetch())
    return PatientAccess(patient, level)
