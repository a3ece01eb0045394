"""Writing the audit trail. Every API read, list, write, export, login and denied access
calls one of these inside the same transaction as the work it records (a read, which
changes nothing, writes its event as its last statement instead: patients/reads.py).

Events hold identifiers only: actor id with a username/role snapshot, the resource type
and id, the patient id, the client's IP, user agent and request id. Never PHI values.
"""

import ipaddress
from dataclasses import dataclass, field

from django.db import connection, transaction

from .models import Action, AuditEvent, Outcome


def client_ip(meta) -> str | None:
    """
    The client's address as an IP, or None. REMOTE_ADDR comes from a trusted proxy's
    X-Forwarded-For (TRUSTED_PROXIES), which can carry any text; PostgreSQL's inet column
    refuses what is not an address, and a login or read must not fail over it.
    """
    value = meta.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


@dataclass
class AuditContext:
    """Who is acting and from where; built once per request."""

    actor: object | None = None
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""
    break_glass: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_request(cls, request) -> "AuditContext":
        django_request = getattr(request, "_request", request)
        meta = django_request.META
        user = getattr(request, "user", None)
        return cls(
            actor=user if getattr(user, "is_authenticated", False) else None,
            ip=client_ip(meta),
            user_agent=(meta.get("HTTP_USER_AGENT") or "")[:256],
            request_id=getattr(django_request, "request_id", "") or "",
        )

    def event(
        self, *, action, resource_type, resource_id="", patient_id=None, outcome=Outcome.SUCCESS, break_glass=None
    ):
        actor = self.actor
        return AuditEvent(
            actor=actor,
            actor_username=getattr(actor, "username", "") if actor else "",
            actor_role=getattr(actor, "role", "") if actor else "",
            action=action,
            resource_type=resource_type,
            resource_id=str(resource_id or ""),
            patient_id=patient_id,
            ip=self.ip,
            user_agent=self.user_agent,
            request_id=self.request_id,
            outcome=outcome,
            break_glass=self.break_glass if break_glass is None else break_glass,
        )


def audit_record(
    ctx: AuditContext,
    *,
    action,
    resource_type,
    resource_id="",
    patient_id=None,
    outcome=Outcome.SUCCESS,
    break_glass=None,
) -> AuditEvent:
    """Write one event. Call inside the transaction of the work being recorded."""
    event = ctx.event(
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        patient_id=patient_id,
        outcome=outcome,
        break_glass=break_glass,
    )
    _insert([event])
    _after_commit()
    return event


def audit_record_many(ctx: AuditContext, *, action, resource_type, items) -> None:
    """One event per (resource_id, patient_id) in `items`, in a single INSERT."""
    events = [
        ctx.event(action=action, resource_type=resource_type, resource_id=resource_id, patient_id=patient_id)
        for resource_id, patient_id in items
    ]
    if not events:
        return
    _insert(events)
    _after_commit()


# Every audit insert is one of two fixed statements on PostgreSQL, made from one column
# list: the ORM compiled an INSERT per request (~10 % of a patient read's CPU under load)
# and bulk_create compiles per value (~20 ms of Python for a list page's 50 events). One
# event binds scalars (dumping twelve one-element arrays cost as much as the ORM did);
# several bind one array per column and unnest them.
_COLUMNS = (
    ("actor_id", "uuid"),
    ("actor_username", "text"),
    ("actor_role", "text"),
    ("action", "text"),
    ("resource_type", "text"),
    ("resource_id", "text"),
    ("patient_id", "uuid"),
    ("ip", "inet"),
    ("user_agent", "text"),
    ("request_id", "text"),
    ("outcome", "text"),
    ("break_glass", "boolean"),
)
_INSERT_INTO = f"INSERT INTO audit_auditevent ({', '.join(name for name, _ in _COLUMNS)})"
_RETURNING = " RETURNING id, occurred_at"
_VALUES_SQL = f"{_INSERT_INTO} VALUES ({', '.join(f'%s::{kind}' for _, kind in _COLUMNS)}){_RETURNING}"
_UNNEST_SQL = f"{_INSERT_INTO} SELECT * FROM unnest({', '.join(f'%s::{kind}[]' for _, kind in _COLUMNS)}){_RETURNING}"  # noqa: S608 - fixed names


def _column_value(event: AuditEvent, name: str, kind: str):
    value = getattr(event, name)
    return None if value is None else str(value) if kind in ("uuid", "inet") else value


def _insert(events: list[AuditEvent]) -> None:
    """Insert `events`, setting each one's id and database-clock occurred_at."""
    if connection.vendor != "postgresql":
        # SQLite (development): bulk_create's RETURNING sets the same two fields.
        AuditEvent.objects.bulk_create(events)
        return
    with connection.cursor() as cursor:
        if len(events) == 1:
            cursor.execute(_VALUES_SQL, [_column_value(events[0], name, kind) for name, kind in _COLUMNS])
        else:
            columns = [[_column_value(event, name, kind) for event in events] for name, kind in _COLUMNS]
            cursor.execute(_UNNEST_SQL, columns)
        # Ids are drawn in input order, so the sorted ids line up with `events`.
        for event, (pk, occurred_at) in zip(events, sorted(cursor.fetchall()), strict=True):
            event.pk, event.occurred_at = pk, occurred_at
            event._state.adding = False


def audit_denied(*, request, exc, view=None) -> None:
    """A refused request: 401 with credentials presented, 403, or a 404 on a scoped record."""
    ctx = AuditContext.from_request(request)
    django_request = getattr(request, "_request", request)
    if ctx.actor is None and getattr(getattr(exc, "actor", None), "is_authenticated", False):
        ctx.actor = exc.actor  # refused during authentication (CSRF): the session's user
    if ctx.actor is None and not django_request.META.get("HTTP_AUTHORIZATION"):
        return  # Anonymous probes without credentials are not access attempts on a record.
    resource_type = getattr(exc, "resource_type", "") or getattr(view, "audit_resource_type", "") or "api"
    with transaction.atomic():
        audit_record(
            ctx,
            action=Action.DENIED,
            resource_type=resource_type,
            resource_id=getattr(exc, "resource_id", "")[:64] if getattr(exc, "resource_id", "") else "",
            patient_id=getattr(exc, "patient_id", None),
            outcome=Outcome.DENIED,
            break_glass=getattr(exc, "break_glass", False),
        )


def _after_commit():
    """Seal the HMAC chain once these events are committed (see clarity/audit/chain.py)."""
    from .chain import seal_soon

    transaction.on_commit(seal_soon)
