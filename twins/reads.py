"""Audited reads of digital twins (see patients/reads.py for why these are not selectors)."""

from collections.abc import Callable

from clarity.audit.models import Action
from clarity.audit.services import AuditContext
from patients.reads import audited_read
from patients.selectors import patient_access_for

from .models import DigitalTwin
from .selectors import revisions_of_twin, twin_access_for, twins_of_patient


def twins_list(*, actor, patient_id, ctx: AuditContext, page: Callable, status=None, twin_type=None):
    """`page(queryset)` of the patient's twins (of `status`, of `twin_type`), audited as one `list` event."""
    queryset = twins_of_patient(patient_id)
    if status:
        queryset = queryset.filter(status=status)
    if twin_type:
        queryset = queryset.filter(twin_type=twin_type)
    return audited_read(
        lambda: patient_access_for(actor, patient_id),
        ctx=ctx,
        action=Action.LIST,
        resource_type="twin",
        resource_id=patient_id,
        fetch=lambda access: page(queryset),
    )


def twin_read(*, actor, twin_id, ctx: AuditContext) -> DigitalTwin:
    """One twin, audited as `read` against its patient."""
    return audited_read(
        lambda: twin_access_for(actor, twin_id), ctx=ctx, action=Action.READ, resource_type="twin", resource_id=twin_id
    )


def twin_revisions_list(*, actor, twin_id, ctx: AuditContext, page: Callable):
    """`page(queryset)` of the twin's revisions, audited as one `list` event."""
    return audited_read(
        lambda: twin_access_for(actor, twin_id),
        ctx=ctx,
        action=Action.LIST,
        resource_type="twin_revision",
        resource_id=twin_id,
        fetch=lambda access: page(revisions_of_twin(twin_id)),
    )
