"""Audited reads of the interaction log and of a patient's whole record (see patients/reads.py
for why these are not selectors)."""

from collections.abc import Callable

from clarity.audit.models import Action
from clarity.audit.services import AuditContext
from clarity.errors import OutOfScope
from patients.reads import audited_read
from patients.selectors import Access, RecordAccess, patient_access_for

from .selectors import assessment_by_id, assessments_of, export_upper_bound

# Who may take a patient's whole record: admin, care team, the patient; not break-the-glass.
EXPORTERS = Access.WRITERS | {Access.SELF}


def interactions_list(*, actor, patient_id, ctx: AuditContext, page: Callable, **filters):
    """`page(patient_id, **filters)`: a page of the patient's log (the rows `interactions_of`
    selects with `filters`), audited as one `list` event."""
    return audited_read(
        lambda: patient_access_for(actor, patient_id),
        ctx=ctx,
        action=Action.LIST,
        resource_type="interaction",
        resource_id=patient_id,
        fetch=lambda access: page(access.patient_id, **filters),
    )


def patient_export(*, actor, patient_id, ctx: AuditContext, with_team: bool = False, upper_bound: bool = False):
    """
    Open an export of the patient's whole record (EXPORTERS only: NotAllowed 403 under
    break-the-glass), audited as `export` once the patient is reached, before any of
    the record is streamed. Returns the patient and, with `upper_bound`, the newest
    interaction id the export covers (None without).
    """
    return audited_read(
        lambda: patient_access_for(actor, patient_id, with_team=with_team),
        ctx=ctx,
        action=Action.EXPORT,
        resource_type="patient",
        resource_id=patient_id,
        allowed=EXPORTERS,
        fetch=lambda access: (access.record, export_upper_bound() if upper_bound else None),
    )


def assessments_list(*, actor, patient_id, ctx: AuditContext, page: Callable, instruments, since=None, until=None):
    """`page(queryset)` of the patient's assessments on `instruments`, audited as one `list` event."""
    return audited_read(
        lambda: patient_access_for(actor, patient_id),
        ctx=ctx,
        action=Action.LIST,
        resource_type="interaction",
        fetch=lambda access: page(assessments_of(access.patient_id, instruments=instruments, since=since, until=until)),
    )


def assessment_read(*, actor, interaction_id: str, ctx: AuditContext, instruments):
    """
    The assessment `interaction_id` on one of `instruments`, audited as `read` against its
    patient. An assessment that does not exist and one of a patient out of the caller's
    scope are the same OutOfScope (404): no existence oracle.
    """

    def reach():
        row = assessment_by_id(int(interaction_id), instruments=instruments)
        if row is None:
            raise OutOfScope("interaction", interaction_id)
        try:
            access = patient_access_for(actor, row.patient_id)
        except OutOfScope:
            raise OutOfScope("interaction", interaction_id, patient_id=row.patient_id) from None
        return RecordAccess(row, access.level, "interaction", row.patient_id)

    return audited_read(reach, ctx=ctx, action=Action.READ, resource_type="interaction", resource_id=interaction_id)
