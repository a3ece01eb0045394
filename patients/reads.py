"""
Audited reads of patient data: one use-case function per read, each doing scope,
break-the-glass flag and audit event together.

They live beside `selectors.py` rather than in it: selectors are plain scoped queries,
which services and other selectors compose freely; these write an audit event, so
calling one is itself a recorded act and must happen once per request, from the view.
"""

from collections.abc import Callable

from clarity.audit.models import Action
from clarity.audit.services import AuditContext, audit_record

from .models import CareTeamMembership, Patient
from .selectors import RecordAccess, patient_access_for


def audited_read(
    reach: Callable[[], RecordAccess],
    *,
    ctx: AuditContext,
    action: str,
    resource_type: str,
    resource_id=None,
    fetch: Callable[[RecordAccess], object] | None = None,
    allowed: frozenset | None = None,
):
    """
    The sequence every read of a patient's data follows, written once: `reach()` the record
    within the caller's scope (OutOfScope 404 / NotAllowed 403), flag the audit context when
    the caller reaches it by break-the-glass, `require(allowed)` when the read needs more
    than any access, `fetch(access)` what the response shows, and write the audit event
    last. The event names `resource_id`, or the record reached when it is None.
    Returns `fetch(access)`, or the record itself without `fetch`.

    No transaction: a read changes nothing, and the event is the last statement, so a read
    that fails writes no event and a read whose event was not written is never answered.
    BEGIN and COMMIT were two of a patient read's six round trips.
    """
    access = reach()
    ctx.break_glass = access.break_glass
    if allowed is not None:
        access.require(allowed)
    result = access.record if fetch is None else fetch(access)
    audit_record(
        ctx,
        action=action,
        resource_type=resource_type,
        resource_id=access.record.pk if resource_id is None else resource_id,
        patient_id=access.patient_id,
    )
    return result


def patient_read(*, actor, patient_id, ctx: AuditContext, with_team: bool = True) -> Patient:
    """One patient (with its care team unless `with_team=False`), audited as `read`."""
    return audited_read(
        lambda: patient_access_for(actor, patient_id, with_team=with_team),
        ctx=ctx,
        action=Action.READ,
        resource_type="patient",
        resource_id=patient_id,
    )


def patient_records_list(*, actor, patient_id, ctx: AuditContext, model, resource_type: str, page: Callable):
    """`page(queryset)` of the patient's `model` records (its key to the patient is `patient`),
    audited as one `list` event of `resource_type`: the read of any patient-owned list."""
    return audited_read(
        lambda: patient_access_for(actor, patient_id),
        ctx=ctx,
        action=Action.LIST,
        resource_type=resource_type,
        resource_id=patient_id,
        fetch=lambda access: page(model._default_manager.filter(patient_id=patient_id)),
    )


def care_team_list(*, actor, patient_id, ctx: AuditContext, page: Callable):
    """`page(queryset)` of the patient's care team, audited as one `list` event."""
    return patient_records_list(
        actor=actor, patient_id=patient_id, ctx=ctx, model=CareTeamMembership, resource_type="care_team", page=page
    )
