"""Reads for patients: the access scope lives here and is applied in SQL."""

import re
from typing import NamedTuple

from django.db.models import Exists, OuterRef, Prefetch, Q, Subquery
from django.utils import timezone

from clarity.api.errors import Forbidden, OutOfScope
from clarity.crypto import blind_index

from .models import BreakGlassGrant, CareTeamMembership, Patient

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
                resource_type="patient", resource_id=self.patient.pk, patient_id=self.patient.pk, break_glass=self.break_glass
            )


def patients_visible_to(user):
    """Patients whose records `user` may list. Break-the-glass grants do not add to lists."""
    queryset = Patient.objects.all()
    if user.role == "admin":
        return queryset
    if user.role == "clinician":
        return queryset.filter(
            Exists(CareTeamMembership.objects.filter(patient=OuterRef("pk"), clinician=user))
        )
    if user.role == "patient":
        return queryset.filter(user=user)
    return queryset.none()


def search_filter(term: str) -> Q:
    """`?search=`: a name prefix or exact MRN; an email or E.164 phone matches its blind index exactly."""
    if "@" in term:
        return Q(email_bidx=blind_index(term, "email"))
    if PHONE_LIKE.match(term):
        return Q(phone_bidx=blind_index(term, "phone")) | Q(mrn=term)
    return Q(family_name__istartswith=term) | Q(given_name__istartswith=term) | Q(mrn=term)


def with_care_team(queryset):
    return queryset.prefetch_related(
        Prefetch("care_team", queryset=CareTeamMembership.objects.order_by("created_at", "id"))
    )


def patient_access_for(user, patient_id, *, queryset=None, lock: bool = False) -> PatientAccess:
    """
    The patient `patient_id` and how `user` may reach it, in one query.
    Raises Forbidden (403) for roles that may never read patients, OutOfScope (404)
    when the patient does not exist or is not within the caller's scope.
    """
    if user.role == "researcher":
        raise Forbidden(resource_type="patient", resource_id=patient_id)
    queryset = queryset if queryset is not None else Patient.objects.all()
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    # One row at most (a pk lookup): no ORDER BY, so Meta.ordering is neither compiled nor sorted on.
    queryset = queryset.order_by()
    if user.role == "admin":
        patient = queryset.filter(pk=patient_id).first()
        level = Access.ADMIN
    elif user.role == "patient":
        patient = queryset.filter(pk=patient_id, user=user).first()
        level = Access.SELF
    elif user.role == "clinician":
        patient = (
            queryset.filter(pk=patient_id)
            .annotate(
                _team_role=Subquery(
                    CareTeamMembership.objects.filter(patient=OuterRef("pk"), clinician=user).order_by().values("role")[:1]
                ),
                _glass=Exists(
                    BreakGlassGrant.objects.filter(
                        patient=OuterRef("pk"), clinician=user, expires_at__gt=timezone.now()
                    )
                ),
            )
            .filter(Q(_team_role__isnull=False) | Q(_glass=True))
            .first()
        )
        if patient is not None:
            if patient._team_role == "primary":
                level = Access.PRIMARY
            elif patient._team_role:
                level = Access.CARE_TEAM
            else:
                level = Access.BREAK_GLASS
    else:
        patient = None
    if patient is None:
        # Record the patient on the denied event when it exists, so "who tried to see this
        # patient" is answerable; the caller still gets the same 404 either way.
        exists = Patient.objects.filter(pk=patient_id).exists()
        raise OutOfScope("patient", patient_id, patient_id=patient_id if exists else None)
    return PatientAccess(patient, level)


def care_team_of(patient):
    return CareTeamMembership.objects.filter(patient=patient)
