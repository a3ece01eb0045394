"""Writes for the interaction log: one transaction per request, rows and audit together."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from clarity.audit.models import Action, AuditEvent
from clarity.audit.services import AuditContext, audit_record, audit_record_many
from clarity.errors import IdempotencyMismatch, NotAllowed
from clarity.formats import dumps
from clarity.users.models import User
from patients.selectors import Access, patient_access_for

from .idempotency import IdempotencyKey
from .models import IdempotencyRecord, InteractionLog, Kind
from .payloads import MAX_PAYLOAD_BYTES
from .selectors import twins_of_patient

CREATORS = Access.WRITERS | {Access.SELF}
PATIENT_KINDS = frozenset({Kind.MESSAGE, Kind.ASSESSMENT})


@dataclass(frozen=True)
class Created:
    """What to answer: the new rows' representation, or the remembered one on a replay."""

    status: int
    body: object
    replayed: bool = False


def interactions_create(
    *,
    actor: User,
    patient_id,
    items: list[dict],
    many: bool,
    idempotency: IdempotencyKey | None,
    ctx: AuditContext,
    represent: Callable[[list], object],
) -> Created:
    """
    Append `items` (validated InteractionCreateSerializer data) to a patient's log, all or
    nothing, with one `create` audit event, in one transaction whose query count
    does not depend on the number of items. `represent(rows)` makes the response body,
    which is remembered with the Idempotency-Key in the same transaction.

    Raises OutOfScope (404); NotAllowed (403: researcher, break-glass, or a patient posting
    a kind other than message/assessment); ValidationError (400: a twin that is not the
    patient's, keyed "N.twin" for a batch, or a payload over the size limit as PostgreSQL
    stores it); IdempotencyMismatch (422: the key was used for another request);
    IntegrityError (409) for a conflict that is not a concurrent retry.

    Concurrent retries with one key: both transactions insert the same unique
    IdempotencyRecord (actor, key); on PostgreSQL the second waits on its unique index
    until the first commits, then fails; it rolls back (its interaction rows with it) and
    replays the winner's response.
    """
    try:
        with transaction.atomic():
            access = patient_access_for(actor, patient_id).of("interaction")
            access.require(CREATORS)
            if access.level == Access.SELF and any(item["kind"] not in PATIENT_KINDS for item in items):
                raise NotAllowed(
                    "Patients may record only messages and assessments.",
                    resource_type="interaction",
                    resource_id=patient_id,
                    patient_id=patient_id,
                )
            if idempotency is not None:
                replay = _replay(actor=actor, idempotency=idempotency, patient_id=patient_id, ctx=ctx)
                if replay is not None:
                    return replay
            _check_twins(patient_id, items, many=many)
            rows = _insert_rows(
                patient_id=access.patient_id,
                actor_id=actor.pk,
                items=items,
                keys=[f"{idempotency.key}:{index}" for index in range(len(items))] if idempotency else None,
            )
            body = represent(rows)
            _audit(ctx, Action.CREATE, patient_id, [row.id for row in rows])
            if idempotency is not None:
                IdempotencyRecord.objects.create(
                    actor=actor,
                    key=idempotency.key,
                    request_fingerprint=idempotency.fingerprint,
                    response_status=201,
                    response_body=body,
                )
            return Created(201, body)
    except IntegrityError as exc:
        if _violated_constraint(exc) == PAYLOAD_CHECK:
            # The database measures a payload as it stores it, and jsonb writes a number such
            # as 1e300 with all its digits: a payload validation measured under the limit can
            # be over it there. Still the client's input, so a 400 that says which rule.
            raise ValidationError(
                {"payload": [f"Must be at most {MAX_PAYLOAD_BYTES} bytes of JSON as the database stores it."]}
            ) from None
        if idempotency is None:
            raise
        # A concurrent request with the same key committed first: answer as it did.
        with transaction.atomic():
            replay = _replay(actor=actor, idempotency=idempotency, patient_id=patient_id, ctx=ctx)
        if replay is None:
            raise
        return replay


def _replay(*, actor, idempotency: IdempotencyKey, patient_id, ctx: AuditContext) -> Created | None:
    record = IdempotencyRecord.objects.filter(actor=actor, key=idempotency.key).first()
    if record is None:
        return None
    if record.request_fingerprint != idempotency.fingerprint:
        raise IdempotencyMismatch()
    # A replay shows the rows again: audit it as a read.
    body = record.response_body
    _audit(ctx, Action.READ, patient_id, [item["id"] for item in body] if isinstance(body, list) else [body["id"]])
    return Created(record.response_status, body, replayed=True)


def _audit(ctx: AuditContext, action: str, patient_id, ids: list[int]) -> None:
    """
    One event per request naming its rows: the id, or for a batch its id ranges
    ("1017-2016"; ids of one INSERT are consecutive unless a concurrent insert interleaved,
    then "1017-1400,1433-2049"), rather than up to 1,000 events to write and seal. Ranges too
    fragmented for the 64-character resource_id fall back to one event per row, in one
    INSERT: the rows are always findable from the trail.
    """
    reference = id_ranges(ids)
    if len(reference) <= AuditEvent._meta.get_field("resource_id").max_length:
        audit_record(ctx, action=action, resource_type="interaction", resource_id=reference, patient_id=patient_id)
    else:
        audit_record_many(
            ctx, action=action, resource_type="interaction", items=[(row_id, patient_id) for row_id in ids]
        )


def id_ranges(ids: list[int]) -> str:
    """Integer ids as sorted, comma-separated runs: [5, 3, 4, 9] → "3-5,9"."""
    runs: list[list[int]] = []
    for value in sorted(ids):
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in runs)


def _check_twins(patient_id, items: list[dict], *, many: bool) -> None:
    wanted = {item["twin"] for item in items if item.get("twin") is not None}
    found = twins_of_patient(patient_id, wanted)
    errors = {
        f"{index}.twin" if many else "twin": ["No such twin for this patient."]
        for index, item in enumerate(items)
        if item.get("twin") is not None and item["twin"] not in found
    }
    if errors:
        raise ValidationError(errors)


# The CHECK on a payload's shape and stored size (migration 0005).
PAYLOAD_CHECK = "interactions_interactionlog_payload_object"


def _violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint PostgreSQL reports (psycopg's diagnostics); None elsewhere."""
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


class NewInteraction(NamedTuple):
    """A row as inserted: what interaction_representation reads, without a model instance."""

    id: int
    patient_id: object
    twin_id: object
    actor_id: object
    kind: str
    payload: object
    occurred_at: datetime.datetime
    recorded_at: datetime.datetime


# The whole batch as one fixed statement with one JSON document (PostgreSQL):
# bulk_create compiled and bound ~800 parameters per 100 rows, and building 100 model
# instances or dumping seven arrays in Python cost as much again; the stdlib's C encoder
# writes the document and PostgreSQL's C parser reads it.
#
# The batch's ids are drawn first, all together (the aggregate reads every nextval before
# one row is inserted), so that a concurrent insert almost never interleaves with them and
# the batch's one audit event can name them as one range. Drawn row by row as the rows
# were inserted, two concurrent batches interleaved so finely that their ranges overflowed
# the event's resource_id and fell back to one event per row: 8 events per batch on
# average under the peer harness's load, each written and sealed (sealing alone was 0.7 ms
# of PostgreSQL's time per batch).
_INSERT_SQL = (
    # The sequence is looked up once per statement (a scalar subquery), not once per id.
    "WITH block AS (SELECT array_agg(nextval((SELECT pg_get_serial_sequence('interactions_interactionlog', 'id')"
    "   ::regclass)) ORDER BY g) AS ids FROM generate_series(1, %s) AS g)"
    " INSERT INTO interactions_interactionlog"
    " (id, patient_id, actor_id, twin_id, kind, payload, occurred_at, idempotency_key)"
    " SELECT block.ids[r.n], %s::uuid, %s::uuid, r.twin, r.kind, r.payload, r.occurred_at, r.key"
    " FROM block, jsonb_to_recordset(%s::jsonb)"
    "   AS r(n int, twin uuid, kind text, payload jsonb, occurred_at timestamptz, key text)"
    " RETURNING id, recorded_at"
)


def _insert_rows(*, patient_id, actor_id, items: list[dict], keys: list[str] | None) -> list:
    """Insert validated `items` for one patient and actor; the rows with their ids and
    database-clock `recorded_at`, in `items` order."""
    if connection.vendor != "postgresql":
        # SQLite (development): bulk_create's RETURNING sets the same two fields.
        return InteractionLog.objects.bulk_create(
            [
                InteractionLog(
                    patient_id=patient_id,
                    twin_id=item.get("twin"),
                    actor_id=actor_id,
                    kind=item["kind"],
                    payload=item["payload"],
                    occurred_at=item["occurred_at"],
                    idempotency_key=keys[index] if keys else None,
                )
                for index, item in enumerate(items)
            ]
        )
    # Written by the project's one JSON writer (orjson: UUIDs and datetimes as text), which
    # also parsed the request's payloads, so whatever a client sent round-trips. The stdlib
    # encoder was 2 % of a 100-item batch's CPU.
    document = dumps(
        [
            {
                "n": index + 1,
                "twin": item.get("twin"),
                "kind": item["kind"],
                "payload": item["payload"],
                "occurred_at": item["occurred_at"],
                "key": keys[index] if keys else None,
            }
            for index, item in enumerate(items)
        ]
    ).decode()
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_SQL, [len(items), str(patient_id), None if actor_id is None else str(actor_id), document]
        )
        # Item n gets the n-th id drawn, so the sorted ids line up with `items`.
        stored = sorted(cursor.fetchall())
    return [
        NewInteraction(
            pk, patient_id, item.get("twin"), actor_id, item["kind"], item["payload"], item["occurred_at"], recorded
        )
        for item, (pk, recorded) in zip(items, stored, strict=True)
    ]
