"""Writes for patients and care teams. Each is one transaction including its audit event."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clarity.audit.models import Action
from clarity.audit.services import AuditContext, audit_record
from clarity.concurrency import IfMatch, check_if_match, save_new_version
from clarity.errors import Conflict, NotAllowed, OutOfScope
from clarity.formats import iso_datetime
from clarity.users.models import User

from .models import BreakGlassGrant, CareTeamMembership, CareTeamRole, Patient, PatientStatus
from .selectors import Access, RecordAccess, patient_access_for
from .validators import validate_break_glass_reason

# The audit resource type of a patient's login link (resource_id: the login's user id).
LOGIN_LINK = "patient_login"


def _clinician(clinician_id, field: str) -> User:
    user = User.objects.filter(pk=clinician_id, is_active=True).first()
    if user is None or not user.is_clinician:
        raise ValidationError({field: ["Must be the id of an active clinician."]})
    return user


def _patient_login(user_id, *, exclude_patient=None) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.is_patient:
        raise ValidationError({"user": ["Must be the id of a patient-role user."]})
    linked = Patient.objects.filter(user=user)
    if exclude_patient is not None:
        linked = linked.exclude(pk=exclude_patient.pk)
    if linked.exists():
        raise Conflict("This login is already linked to another patient.", field="user")
    return user


def patient_create(*, actor: User, data: dict, primary_clinician_id=None, ctx: AuditContext) -> Patient:
    """
    Create a patient and its primary care-team membership.
    Raises ValidationError (400) for bad data or a missing/invalid primary clinician,
    Conflict (409) for a duplicate MRN or an already-linked login.
    """
    data = dict(data)
    if actor.is_clinician:
        if primary_clinician_id is not None and str(primary_clinician_id) != str(actor.pk):
            raise ValidationError(
                {"primary_clinician": ["A clinician creating a patient becomes its primary clinician."]}
            )
        primary = actor
    else:
        if primary_clinician_id is None:
            raise ValidationError({"primary_clinician": ["This field is required when an admin creates a patient."]})
        primary = _clinician(primary_clinician_id, "primary_clinician")
    user_id = data.pop("user", None)
    patient = Patient(**data)
    if user_id is not None:
        patient.user = _patient_login(user_id)
    if Patient.objects.filter(mrn=patient.mrn).exists():
        raise Conflict("A patient with this MRN already exists.", field="mrn")
    patient.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            patient.save(force_insert=True)
            CareTeamMembership.objects.create(patient=patient, clinician=primary, role=CareTeamRole.PRIMARY)
            audit_record(
                ctx, action=Action.CREATE, resource_type="patient", resource_id=patient.pk, patient_id=patient.pk
            )
            if patient.user_id is not None:
                _audit_login_link(ctx, patient, previous=None)
    except IntegrityError:
        # Two creates raced past the check above; the unique index decided.
        raise Conflict("A patient with this MRN or login already exists.", field="mrn") from None
    return patient


def patient_update(*, actor: User, patient_id, data: dict, if_match: IfMatch | None, ctx: AuditContext) -> Patient:
    """
    Change a patient's demographics, contact details, status or login link.
    Raises OutOfScope (404), NotAllowed (403: patient, break-glass or researcher; a
    consulting clinician changing `status` or the linked login `user`),
    StaleVersion (412) on a stale If-Match, ValidationError (400), Conflict (409).
    """
    with transaction.atomic():
        access = patient_access_for(actor, patient_id, lock=True)
        access.require(Access.WRITERS)
        patient = access.record
        if "status" in data and data["status"] != patient.status:
            # Deactivating is DELETE's job (admin or primary); PATCH must not be a way around it.
            access.require(Access.MANAGERS)
        data = dict(data)
        previous_login = patient.user_id
        login_changes = "user" in data and data["user"] != previous_login
        if login_changes:
            # Linking a login grants it the whole record (read, export) and takes it from
            # whoever held it: an access grant, so admin or primary only, like the care team.
            access.require(Access.MANAGERS)
        check_if_match(if_match, patient.version)
        if "user" in data:
            user_id = data.pop("user")
            patient.user = _patient_login(user_id, exclude_patient=patient) if user_id is not None else None
        for key, value in data.items():
            setattr(patient, key, value)
        patient.full_clean(validate_unique=False, validate_constraints=False)
        save_new_version(patient)
        audit_record(ctx, action=Action.UPDATE, resource_type="patient", resource_id=patient.pk, patient_id=patient.pk)
        if login_changes:
            _audit_login_link(ctx, patient, previous=previous_login)
    return patient


def _audit_login_link(ctx: AuditContext, patient: Patient, *, previous) -> None:
    """A login linked to or unlinked from a patient, audited as the access grant or revocation it is."""
    if previous is not None:
        audit_record(ctx, action=Action.DELETE, resource_type=LOGIN_LINK, resource_id=previous, patient_id=patient.pk)
    if patient.user_id is not None:
        audit_record(
            ctx, action=Action.CREATE, resource_type=LOGIN_LINK, resource_id=patient.user_id, patient_id=patient.pk
        )


def patient_record_create(*, actor: User, patient_id, model, resource_type: str, data: dict, ctx: AuditContext):
    """
    Create one `model` record of the patient (its key to the patient is `patient`) from
    validated `data`, with its `create` audit event: the write of a patient-owned resource
    built on PatientRecordsView (patients/views.py). Raises OutOfScope (404), NotAllowed (403: the patient's own
    login, break-the-glass; recorded against `resource_type`), ValidationError (400) from the
    model's own rules.
    """
    with transaction.atomic():
        access = patient_access_for(actor, patient_id).of(resource_type)
        access.require(Access.WRITERS)
        record = model(patient=access.record, **data)
        # The patient was just read under scope: no need for full_clean to fetch it again.
        record.full_clean(exclude=["patient"], validate_unique=False, validate_constraints=False)
        record.save(force_insert=True)
        audit_record(
            ctx, action=Action.CREATE, resource_type=resource_type, resource_id=record.pk, patient_id=access.patient_id
        )
    return record


def patient_deactivate(*, actor: User, patient_id, if_match: IfMatch | None, ctx: AuditContext) -> Patient:
    """DELETE: mark inactive (PHI is retained). Admin or primary clinician only."""
    with transaction.atomic():
        access = patient_access_for(actor, patient_id, lock=True)
        return record_retire(access, allowed=Access.MANAGERS, status=PatientStatus.INACTIVE, if_match=if_match, ctx=ctx)


def record_retire(access: RecordAccess, *, allowed: frozenset, status: str, if_match: IfMatch | None, ctx):
    """
    DELETE of a versioned record that is retired, never deleted (a patient made inactive, a
    twin archived), read under a row lock into `access`: the caller's level must be in
    `allowed`, If-Match must name its version; retiring a retired record changes nothing.
    Audited as `delete`. Raises NotAllowed (403), StaleVersion (412).
    """
    access.require(allowed)
    record = access.record
    check_if_match(if_match, record.version)
    if record.status != status:
        record.status = status
        save_new_version(record, ["status"])
    audit_record(
        ctx,
        action=Action.DELETE,
        resource_type=access.resource_type,
        resource_id=record.pk,
        patient_id=access.patient_id,
    )
    return record


def care_team_add(*, actor: User, patient_id, clinician_id, role: str, ctx: AuditContext) -> CareTeamMembership:
    """Add a clinician. Admin or primary only (403). Duplicate member or second primary → Conflict (409)."""
    with transaction.atomic():
        access = patient_access_for(actor, patient_id, lock=True)
        access.require(Access.MANAGERS)
        patient = access.record
        clinician = _clinician(clinician_id, "clinician")
        if CareTeamMembership.objects.filter(patient=patient, clinician=clinician).exists():
            raise Conflict("This clinician is already on the care team.", field="clinician")
        if (
            CareTeamRole.is_primary(role)
            and CareTeamMembership.objects.filter(patient=patient, role=CareTeamRole.PRIMARY).exists()
        ):
            raise Conflict("The patient already has a primary clinician.", field="role")
        try:
            with transaction.atomic():
                membership = CareTeamMembership.objects.create(patient=patient, clinician=clinician, role=role)
        except IntegrityError:
            raise Conflict("The care team changed concurrently; retry.", field="clinician") from None
        audit_record(
            ctx, action=Action.CREATE, resource_type="care_team", resource_id=clinician.pk, patient_id=patient.pk
        )
    return membership


def care_team_remove(*, actor: User, patient_id, clinician_id, ctx: AuditContext) -> None:
    """Remove a member. Admin or primary only (403); unknown member → 404; the primary → Conflict (409)."""
    with transaction.atomic():
        access = patient_access_for(actor, patient_id, lock=True)
        access.require(Access.MANAGERS)
        membership = CareTeamMembership.objects.filter(patient=access.record, clinician_id=clinician_id).first()
        if membership is None:
            raise OutOfScope("care_team", clinician_id, patient_id=access.patient_id)
        if CareTeamRole.is_primary(membership.role):
            raise Conflict("The primary clinician cannot be removed; a patient always has one.", field="clinician")
        membership.delete()
        audit_record(
            ctx, action=Action.DELETE, resource_type="care_team", resource_id=clinician_id, patient_id=access.patient_id
        )


def break_glass_grant(*, actor: User, patient_id, reason: str, ctx: AuditContext) -> BreakGlassGrant:
    """
    Emergency read access for a clinician outside the care team. Other roles → NotAllowed
    (403); already on the care team, or already holding a live grant for the patient →
    Conflict (409); unknown patient → OutOfScope (404).

    One live grant per clinician and patient: the patient row is locked (FOR UPDATE on
    PostgreSQL; SQLite's IMMEDIATE transactions serialise writers anyway) before the
    check, so parallel requests queue and all but the first see the live grant. A partial
    unique index cannot say "live" (it depends on now()).
    """
    if not actor.is_clinician:
        raise NotAllowed("Only clinicians can break the glass.", resource_type="break_glass", resource_id=patient_id)
    try:
        validate_break_glass_reason(reason)
    except ValidationError as exc:
        raise ValidationError({"reason": exc.messages}) from None
    with transaction.atomic():
        patient = Patient.objects.select_for_update().filter(pk=patient_id).first()
        if patient is None:
            raise OutOfScope("patient", patient_id)
        if CareTeamMembership.objects.filter(patient=patient, clinician=actor).exists():
            raise Conflict("You are on this patient's care team; break-the-glass is not needed.")
        now = timezone.now()
        live = BreakGlassGrant.objects.filter(patient=patient, clinician=actor, expires_at__gt=now).first()
        if live is not None:
            raise Conflict(
                "You already hold a live break-the-glass grant for this patient, until "
                + iso_datetime(live.expires_at)
                + "."
            )
        grant = BreakGlassGrant.objects.create(
            patient=patient,
            clinician=actor,
            reason=reason.strip(),
            created_at=now,
            expires_at=now + settings.BREAK_GLASS_TTL,
        )
        audit_record(
            ctx,
            action=Action.BREAK_GLASS,
            resource_type="patient",
            resource_id=patient.pk,
            patient_id=patient.pk,
            break_glass=True,
        )
    return grant
