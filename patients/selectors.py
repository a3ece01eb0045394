"""Reads for patients: the access scope lives here and is applied in SQL."""

import re
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from clarity.crypto import blind_index
from clarity.errors import NotAllowed, OutOfScope
from clarity.fixed_sql import Columns

from .models import CareTeamMembership, CareTeamRole, Patient

PHONE_LIKE = re.compile(r"^\+[0-9 ().-]{2,20}$")


class Access:
    ADMIN = "admin"
    PRIMARY = "primary"
    CARE_TEAM = "care_team"
    SELF = "self"
    BREAK_GLASS = "break_glass"

    WRITERS = frozenset({ADMIN, PRIMARY, CARE_TEAM})
    MANAGERS = frozenset({ADMIN, PRIMARY})


class RecordAccess(NamedTuple):
    """
    A record the caller reached within their scope, and how (an `Access` level): a patient,
    or a record that belongs to one (a twin, ...). Every patient-owned resource checks what
    the caller may do with it here, so a refusal is recorded the same way everywhere.
    """

    record: object
    level: str
    resource_type: str
    patient_id: object

    @property
    def break_glass(self) -> bool:
        return self.level == Access.BREAK_GLASS

    def require(self, allowed: frozenset) -> None:
        """Raise NotAllowed (403) unless the caller's access level is in `allowed`. The denied
        event names this resource type and is flagged when the caller works under break-the-glass."""
        if self.level not in allowed:
            raise NotAllowed(
                resource_type=self.resource_type,
                resource_id=self.record.pk,
                patient_id=self.patient_id,
                break_glass=self.break_glass,
            )

    def of(self, resource_type: str) -> "RecordAccess":
        """This reach of a patient, used to act on the patient's `resource_type` records (e.g.
        create a twin): a refusal is then recorded against that type, not the patient."""
        return self._replace(resource_type=resource_type)


def patients_visible_to(user):
    """Patients whose records `user` may list. Break-the-glass grants do not add to lists."""
    queryset = Patient.objects.all()
    if user.is_admin:
        return queryset
    if user.is_clinician:
        return queryset.filter(Exists(CareTeamMembership.objects.filter(patient=OuterRef("pk"), clinician=user)))
    if user.is_patient:
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


# The order a patient's care team is shown in, wherever it is read.
CARE_TEAM_ORDER = ("created_at", "id")


def care_team_prefetch():
    return Prefetch("care_team", queryset=CareTeamMembership.objects.order_by(*CARE_TEAM_ORDER))


def with_care_team(queryset):
    return queryset.prefetch_related(care_team_prefetch())


# One patient's care team as one fixed statement, the result set where the ORM's prefetch
# would put it: prefetch_related_objects built and compiled a queryset for every patient
# read (~14 % of its CPU under load). Same rows, and CARE_TEAM_ORDER, as care_team_prefetch().
_CARE_TEAM = Columns(CareTeamMembership, ("id", "patient_id", "clinician_id", "role", "created_at"))
_CARE_TEAM_SQL = (
    f"SELECT {_CARE_TEAM.sql('m')} FROM patients_careteammembership m"  # noqa: S608 - fixed names
    f" WHERE m.patient_id = %s ORDER BY {', '.join(f'm.{name}' for name in CARE_TEAM_ORDER)}"
)


def attach_care_team(patient: Patient) -> None:
    """Load `patient.care_team.all()` (CARE_TEAM_ORDER) in one query."""
    alias = router.db_for_read(CareTeamMembership, instance=patient)
    with connections[alias].cursor() as cursor:
        cursor.execute(_CARE_TEAM_SQL, [Patient._meta.pk.get_db_prep_value(patient.pk, connections[alias])])
        members = [_CARE_TEAM.instance(alias, row) for row in cursor.fetchall()]
    team = CareTeamMembership.objects.none()
    team._result_cache, team._prefetch_done = members, True
    patient._prefetched_objects_cache = {**getattr(patient, "_prefetched_objects_cache", {}), "care_team": team}


# The hot path of every patient-scoped request, as one hand-written statement: the ORM
# spent ~3 ms building and compiling the equivalent annotated queryset per request
# (README "Performance"), several times the query's own cost. The patient is decoded only
# once access is granted.
#
# An out-of-scope patient and a made-up id must cost the same work, or timing is an
# existence oracle (clarity/tests/reliability/test_timing_oracle.py). So a read is driven
# from the requested id: the care-team and break-the-glass lookups are keyed by it and run
# whether or not the patient exists, and the patient's row joins in only when one of them
# grants access, so an out-of-scope patient returns no more than a made-up id. Whether it
# exists (named on the denied event) is one more index probe, made for either. The care
# team is not joined in, for the same reason. (LIMIT 1 on the one-row derived table keeps
# PostgreSQL from inlining it, which would run each lookup twice.) A locking write reads
# the patient directly: FOR UPDATE cannot take the nullable side of an outer join.
_PATIENT = Columns(Patient, tuple(field.attname for field in Patient._meta.concrete_fields))
# What a clinician's reach of one patient depends on, as two select-list items keyed by
# `{patient}` (an SQL expression for the patient's id), the one definition every access
# statement uses (this module's and twins'): the care-team role (NULL: not on the team)
# and whether a live break-the-glass grant exists; parameters clinician id, clinician id,
# now. clinician_level() turns them into the level.
CLINICIAN_ACCESS_FACTS = (
    " (SELECT m.role FROM patients_careteammembership m"
    "   WHERE m.patient_id = {patient} AND m.clinician_id = %s) AS role,"  # unique (patient, clinician)
    " EXISTS (SELECT 1 FROM patients_breakglassgrant g"
    "   WHERE g.patient_id = {patient} AND g.clinician_id = %s AND g.expires_at > %s) AS glass"
)
_CLINICIAN_ACCESS_SQL = (
    f"SELECT {_PATIENT.sql('p')}, r.role, r.glass, r.present FROM ("  # noqa: S608 - fixed names
    f"SELECT q.id,{CLINICIAN_ACCESS_FACTS.format(patient='q.id')},"
    " EXISTS (SELECT 1 FROM patients_patient e WHERE e.id = q.id) AS present"
    " FROM (SELECT %s AS id) q LIMIT 1) r"
    " LEFT JOIN patients_patient p ON p.id = r.id AND (r.role IS NOT NULL OR r.glass)"
)
_CLINICIAN_LOCK_SQL = (
    f"SELECT {_PATIENT.sql('p')}, {CLINICIAN_ACCESS_FACTS.format(patient='p.id')}, TRUE"  # noqa: S608 - fixed names
    " FROM patients_patient p WHERE p.id = %s"
)


def _clinician_patient(user, patient_id, *, lock: bool):
    """(patient, level, exists): the patient and the clinician's level, or (None, None, exists)."""
    alias = router.db_for_read(Patient)
    connection = connections[alias]
    pk = Patient._meta.pk
    user_id = pk.get_db_prep_value(user.pk, connection)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    patient_key = pk.get_db_prep_value(patient_id, connection)
    sql = _CLINICIAN_LOCK_SQL if lock else _CLINICIAN_ACCESS_SQL
    if lock and connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF p"
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, user_id, now, patient_key])
        row = cursor.fetchone()
    if row is None:
        return None, None, False
    width = len(_PATIENT.names)
    level = clinician_level(row[width], bool(row[width + 1]))
    if not level:
        return None, None, bool(row[width + 2])
    return _PATIENT.instance(alias, row[:width]), level, True


def clinician_level(team_role: str | None, glass: bool) -> str | None:
    """A clinician's access level from their care-team role and a live break-the-glass grant (None: no access)."""
    if CareTeamRole.is_primary(team_role):
        return Access.PRIMARY
    if team_role:
        return Access.CARE_TEAM
    return Access.BREAK_GLASS if glass else None


def patient_access_for(user, patient_id, *, with_team: bool = False, lock: bool = False) -> RecordAccess:
    """
    The patient `patient_id` and how `user` may reach it, in one query (plus one for the
    care team with `with_team`, once access is granted). Raises NotAllowed (403) for roles that may never read
    patients, OutOfScope (404) when the patient does not exist or is outside the caller's scope.
    """
    if user.is_researcher:
        raise NotAllowed(resource_type="patient", resource_id=patient_id)
    try:
        patient_id = Patient._meta.pk.to_python(patient_id)
    except ValidationError:
        raise OutOfScope("patient", patient_id) from None
    patient, level, exists = None, None, None
    if user.is_clinician:
        # The statement tells whether the patient exists: a made-up id and an out-of-scope
        # patient then cost the same one query (no timing oracle, issue #11 item 16).
        patient, level, exists = _clinician_patient(user, patient_id, lock=lock)
    elif user.is_admin or user.is_patient:
        # One row at most (a pk lookup): no ORDER BY, so Meta.ordering is neither compiled nor sorted on.
        queryset = Patient.objects.order_by().filter(pk=patient_id)
        if lock:
            queryset = queryset.select_for_update(of=("self",))
        if user.is_patient:
            queryset = queryset.filter(user=user)
        patient = queryset.first()
        level = Access.ADMIN if user.is_admin else Access.SELF
    if patient is None:
        # Record the patient on the denied event when it exists, so "who tried to see this
        # patient" is answerable; the caller still gets the same 404 either way.
        if exists is None:
            exists = Patient.objects.filter(pk=patient_id).exists()
        raise OutOfScope("patient", patient_id, patient_id=patient_id if exists else None)
    if with_team:
        attach_care_team(patient)
    return RecordAccess(patient, level, "patient", patient.pk)
