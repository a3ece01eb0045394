"""Writes for digital twins. Each is one transaction including its revision and audit event."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clarity.audit.models import Action
from clarity.audit.services import AuditContext, audit_record
from clarity.concurrency import IfMatch, check_if_match, save_new_version
from clarity.errors import Conflict
from clarity.users.models import User
from patients.selectors import Access, patient_access_for
from patients.services import record_retire

from .configuration import validate_configuration
from .models import DigitalTwin, TwinRevision, TwinStatus
from .selectors import twin_access_for

LIVE_TWIN_CONFLICT = "The patient already has a live (non-archived) twin of this type."

UPDATABLE_FIELDS = ("name", "status", "configuration", "state")
# full_clean would fetch each related row just to confirm it exists (the caller holds
# them), and would call an empty configuration "blank"; `{}` is a valid configuration,
# checked, like every other, by validate_configuration.
CLEAN_EXCLUDE = ["patient", "created_by", "configuration"]


def _check_configuration(configuration) -> None:
    errors = validate_configuration(configuration)
    if errors:
        raise ValidationError(errors)


def _live_twin_exists(*, patient_id, twin_type, exclude_pk=None) -> bool:
    queryset = DigitalTwin.objects.filter(patient_id=patient_id, twin_type=twin_type).exclude(
        status=TwinStatus.ARCHIVED
    )
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    return queryset.exists()


def twin_create(
    *, actor: User, patient_id, name: str, twin_type: str, configuration: dict, ctx: AuditContext
) -> DigitalTwin:
    """
    Create a twin (status `initializing`, version 1) and its revision 1.
    Raises OutOfScope (404), NotAllowed (403: researcher, patient, break-glass),
    ValidationError (400, keyed `configuration.<key>`), Conflict (409) when the patient
    already has a live twin of this type, including when two creates race.
    """
    try:
        with transaction.atomic():
            # The patient row lock also serializes concurrent creates for one patient.
            access = patient_access_for(actor, patient_id, lock=True).of("twin")
            access.require(Access.WRITERS)
            _check_configuration(configuration)
            if _live_twin_exists(patient_id=access.patient_id, twin_type=twin_type):
                raise Conflict(LIVE_TWIN_CONFLICT, field="twin_type")
            now = timezone.now()
            twin = DigitalTwin(
                patient=access.record,
                name=name,
                twin_type=twin_type,
                status=TwinStatus.INITIALIZING,
                configuration=configuration,
                version=1,
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
            twin.full_clean(exclude=CLEAN_EXCLUDE, validate_unique=False, validate_constraints=False)
            twin.save(force_insert=True)
            TwinRevision.objects.create(
                twin=twin, version=1, configuration=configuration, changed_by=actor, changed_at=now
            )
            audit_record(
                ctx, action=Action.CREATE, resource_type="twin", resource_id=twin.pk, patient_id=twin.patient_id
            )
    except IntegrityError:
        # A concurrent write got past the check above; the partial unique index decided.
        raise Conflict(LIVE_TWIN_CONFLICT, field="twin_type") from None
    return twin


def twin_update(*, actor: User, twin_id, data: dict, if_match: IfMatch | None, ctx: AuditContext) -> DigitalTwin:
    """
    PATCH a twin's `name`, `status`, `configuration` or `state` under its row lock.
    Any actual change bumps `version`; a configuration change also writes the
    TwinRevision for the new version, in the same transaction.
    Raises OutOfScope (404), NotAllowed (403: researcher, patient, break-glass),
    StaleVersion (412) on a stale If-Match, ValidationError (400), Conflict (409) when
    un-archiving while another live twin of the type exists.
    """
    unknown = set(data) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ValueError("twin_update got fields it cannot change")
    try:
        with transaction.atomic():
            access = twin_access_for(actor, twin_id, lock=True)
            access.require(Access.WRITERS)
            twin = access.record
            check_if_match(if_match, twin.version)
            if "configuration" in data:
                _check_configuration(data["configuration"])
            changed = [key for key, value in data.items() if getattr(twin, key) != value]
            if "status" in changed and twin.status == TwinStatus.ARCHIVED and data["status"] != TwinStatus.ARCHIVED:
                if _live_twin_exists(patient_id=twin.patient_id, twin_type=twin.twin_type, exclude_pk=twin.pk):
                    raise Conflict(LIVE_TWIN_CONFLICT, field="status")
            if changed:
                for key in changed:
                    setattr(twin, key, data[key])
                twin.full_clean(exclude=CLEAN_EXCLUDE, validate_unique=False, validate_constraints=False)
                save_new_version(twin, changed)
                if "configuration" in changed:
                    TwinRevision.objects.create(
                        twin=twin,
                        version=twin.version,
                        configuration=twin.configuration,
                        changed_by=actor,
                        changed_at=twin.updated_at,
                    )
            audit_record(
                ctx, action=Action.UPDATE, resource_type="twin", resource_id=twin.pk, patient_id=twin.patient_id
            )
    except IntegrityError:
        # Un-archiving raced another live twin of the same type in; the index decided.
        raise Conflict(LIVE_TWIN_CONFLICT, field="status") from None
    return twin


def twin_archive(*, actor: User, twin_id, if_match: IfMatch | None, ctx: AuditContext) -> DigitalTwin:
    """
    DELETE: retire a twin by archiving it (twins are never deleted). Archiving an
    archived twin changes nothing. Raises OutOfScope (404), NotAllowed (403),
    StaleVersion (412) on a stale If-Match.
    """
    with transaction.atomic():
        access = twin_access_for(actor, twin_id, lock=True)
        return record_retire(access, allowed=Access.WRITERS, status=TwinStatus.ARCHIVED, if_match=if_match, ctx=ctx)
