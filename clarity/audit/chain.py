"""The tamper-evident audit chain.

Every event gets `chain_seq` (1, 2, 3, … in sealing order), `prev_hash` (the previous
event's hash; 64 zeros for the first) and
`hash = HMAC-SHA256(AUDIT_HMAC_KEY, prev_hash ‖ canonical JSON of the event)`.

Events are written unsealed inside the request's own transaction, so writers never wait
on each other. After commit (at most every AUDIT_SEAL_INTERVAL per process),
`seal_pending()` chains the committed, unsealed events it finds, in id order, one round of
up to SEAL_BATCH, under a transaction-scoped advisory lock taken with
`pg_try_advisory_xact_lock`: if another worker is already sealing, this one returns at
once and its events are picked up by that sealer's next round, the next writer, or
`verify_audit`. Under load one sealer seals many events per round. The unique
`chain_seq` constraint makes a fork impossible even if the lock were bypassed.
"""

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, transaction

from .models import AuditEvent

GENESIS = "0" * 64
SEAL_BATCH = 2000
# An arbitrary 63-bit constant naming "the audit sealer" in pg advisory-lock space.
ADVISORY_LOCK_KEY = 0x0C1A_A17D_5EA1

_last_attempt = 0.0

CANONICAL_FIELDS = (
    "id",
    "chain_seq",
    "occurred_at",
    "actor_id",
    "actor_username",
    "actor_role",
    "action",
    "resource_type",
    "resource_id",
    "patient_id",
    "ip",
    "user_agent",
    "request_id",
    "outcome",
    "break_glass",
)


def _canonical_value(value):
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="microseconds")
    return str(value)


def canonical_fields(event: AuditEvent, chain_seq: int) -> dict:
    """The hashed fields of an event as JSON values (what an archive file stores per event)."""
    data = {name: _canonical_value(getattr(event, name)) for name in CANONICAL_FIELDS if name != "chain_seq"}
    data["chain_seq"] = chain_seq
    data["patient_id"] = str(event.patient_id) if event.patient_id else None
    data["actor_id"] = str(event.actor_id) if event.actor_id else None
    return data


def canonical(event: AuditEvent, chain_seq: int) -> bytes:
    return canonical_json(canonical_fields(event, chain_seq))


def canonical_json(fields: dict) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(prev_hash: str, event: AuditEvent, chain_seq: int) -> str:
    return hash_fields(prev_hash, canonical_fields(event, chain_seq))


def hash_fields(prev_hash: str, fields: dict) -> str:
    key = settings.AUDIT_HMAC_KEY
    return hmac.new(key, prev_hash.encode() + canonical_json(fields), hashlib.sha256).hexdigest()


def _primary():
    # The sealer and the verifier read the chain where it is written: a replica may lag,
    # and sealing after a stale head would fork the chain.
    return AuditEvent.objects.using(DEFAULT_DB_ALIAS)


def _try_lock() -> bool:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # And, for the round's transaction only, no sequential scans: the round reads
            # the unsealed events, a handful, through their partial index. With statistics
            # taken while many events were unsealed (on a new partition, or with autovacuum
            # behind) PostgreSQL costed a sequential scan of the whole month's partition
            # instead: 4-13 ms a round under the peer harness, growing with the partition.
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(%s), set_config('enable_seqscan', 'off', true)",
                [ADVISORY_LOCK_KEY],
            )
            return bool(cursor.fetchone()[0])
    # SQLite: the IMMEDIATE transaction already holds the database's single write lock.
    return True


def seal_pending(*, max_rounds: int = 50) -> int:
    """Seal committed, unsealed events. Returns how many were sealed (0 if another sealer holds the lock)."""
    sealed = 0
    for _ in range(max_rounds):
        with transaction.atomic(using=DEFAULT_DB_ALIAS):
            if not _try_lock():
                return sealed
            seq, prev = _head()
            batch = list(unsealed()[:SEAL_BATCH])
            if not batch:
                return sealed
            rows = _links(batch, seq, prev)
            _claim(rows[0][0], rows[-1][0], rows[-1][2])
            _write_seals(rows)
            sealed += len(rows)
        if len(batch) < SEAL_BATCH:
            return sealed
    return sealed


def _links(batch: list[AuditEvent], seq: int, prev: str) -> list[tuple[int, str, str, int]]:
    """(chain_seq, prev_hash, hash, id) for each event of `batch`, chained on from the head (seq, prev)."""
    rows = []
    for event in batch:
        seq += 1
        digest = compute_hash(prev, event, seq)
        rows.append((seq, prev, digest, event.id))
        prev = digest
    return rows


def unsealed():
    """The events not yet sealed, in sealing (id) order: their partial index holds only them."""
    return _primary().filter(hash__isnull=True).order_by("id")


class ChainForked(Exception):
    """Another sealer moved the head during this round: nothing of the round is written."""


def _head() -> tuple[int, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, hash FROM audit_auditchainhead WHERE id = 1")
        row = cursor.fetchone()
        if row is None:  # an emptied database (a test flush): the chain starts again
            cursor.execute(
                "INSERT INTO audit_auditchainhead (id, seq, hash, round_first) VALUES (1, 0, %s, 0) ON CONFLICT (id) DO NOTHING",
                [GENESIS],
            )
            return 0, GENESIS
    return row[0], row[1]


def _claim(first: int, last: int, last_hash: str) -> None:
    """Move the head from first - 1 to `last` (compare-and-set), claiming first..last for
    this transaction: the database refuses seals at positions nobody claimed (fork guard)."""
    xid = "txid_current()" if connection.vendor == "postgresql" else "NULL"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE audit_auditchainhead SET seq = %s, hash = %s, round_first = %s, round_xid = {xid},"  # noqa: S608
            " sealed_at = CURRENT_TIMESTAMP WHERE id = 1 AND seq = %s",
            [last, last_hash, first, first - 1],
        )
        if cursor.rowcount != 1:
            raise ChainForked(f"the chain head is no longer at {first - 1}")


# A round's seals in ONE statement: one statement per event made sealing a 50-patient list
# page cost 50 round trips. On PostgreSQL it is one fixed statement binding one array per
# column, so psycopg prepares it once; a VALUES list of four parameters a row was a new
# statement for every round size, parsed and planned each time (25-40 ms per round under
# the peer harness's load). Only the guard `hash IS NULL` and the id are looked up.
#
# The ids are bound a second time as `id = ANY(...)` so that the events are found by index
# probes whatever the statistics say. Joined on `id = v.id` alone, PostgreSQL planned from
# statistics taken while few events were unsealed and hashed every unsealed event to find
# the round's: with 180,000 waiting (a patient-list load outrunning the sealer) a round of
# 2,000 spent 90 of its 160 ms there, each round as slow as the backlog was long.
_SEAL_SQL = (
    "UPDATE audit_auditevent SET chain_seq = v.seq, prev_hash = v.prev, hash = v.hash"
    " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[]) AS v(seq, prev, hash, id)"
    " WHERE audit_auditevent.id = ANY(%s::bigint[]) AND audit_auditevent.id = v.id"
    " AND audit_auditevent.hash IS NULL"
)


def _seal_params(rows: list[tuple[int, str, str, int]]) -> list[list]:
    """_SEAL_SQL's parameters: one array per column, then the ids again."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    return [*columns, columns[3]]


def _write_seals(rows: list[tuple[int, str, str, int]]) -> None:
    """Write (chain_seq, prev_hash, hash, id) for each sealed event."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_SEAL_SQL, _seal_params(rows))
            return
        # SQLite (development; >= 3.33 has UPDATE ... FROM): VALUES columns are column1..4,
        # at most 500 rows (2,000 parameters) a statement. Only %s placeholders are
        # interpolated into the statement; the values are parameters.
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            values = ", ".join("(%s, %s, %s, %s)" for _ in chunk)
            cursor.execute(
                "UPDATE audit_auditevent SET chain_seq = v.column1, prev_hash = v.column2, hash = v.column3 "  # noqa: S608
                f"FROM (VALUES {values}) AS v "
                "WHERE audit_auditevent.id = v.column4 AND audit_auditevent.hash IS NULL",
                [value for row in chunk for value in row],
            )


def seal_soon() -> None:
    """After-commit hook: seal one round, at most once per AUDIT_SEAL_INTERVAL seconds per
    process unless the last round was full (a backlog)."""
    global _last_attempt
    now = time.monotonic()
    if now - _last_attempt < settings.AUDIT_SEAL_INTERVAL:
        return
    _last_attempt = now
    try:
        # One round (up to SEAL_BATCH events): this runs in a request's thread after its
        # commit, so the request waits for it. With more rounds, a request that found a
        # backlog sealed all of it: seconds under a patient-list load. After a full round
        # the next commit seals the next one without waiting for the interval, so rounds
        # follow one another as fast as commits come and no request waits for more than one.
        if seal_pending(max_rounds=1) >= SEAL_BATCH:
            _last_attempt = 0.0
    except Exception:  # noqa: BLE001 - sealing is retried by the next writer or verify_audit
        import logging

        logging.getLogger("clarity.audit").warning("audit_seal_deferred")


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    bad_event_id: int | None = None
    reason: str = ""


def _archived_ranges() -> list[tuple[int, int]]:
    from .models import AuditArchive

    return list(
        AuditArchive.objects.using(DEFAULT_DB_ALIAS)
        .filter(first_seq__isnull=False)
        .values_list("first_seq", "last_seq")
    )


def _archived(first: int, last: int, ranges) -> bool:
    """Every position first..last lies in some archived month's [first_seq, last_seq]."""
    position = first
    for low, high in sorted(ranges):
        if low <= position <= high:
            position = high + 1
        if position > last:
            return True
    return position > last


def verify_chain() -> VerifyResult:
    """
    Walk the live chain in chain_seq order; report the first event that breaks it. Positions
    in archived months (AuditArchive) may be absent here; `verify_audit --archive DIR`
    (clarity/audit/archive.py) checks the links across them from the files.
    """
    expected_seq = 1
    prev = GENESIS
    checked = 0
    ranges = _archived_ranges()
    queryset = _primary().filter(chain_seq__isnull=False).order_by("chain_seq")
    for event in queryset.iterator(chunk_size=2000):
        if event.chain_seq != expected_seq:
            if not (event.chain_seq > expected_seq and _archived(expected_seq, event.chain_seq - 1, ranges)):
                return VerifyResult(
                    False,
                    checked,
                    event.id,
                    f"chain_seq {event.chain_seq} where {expected_seq} was expected (a row is missing)",
                )
            prev = event.prev_hash  # the link before it is in an archive file
        if event.prev_hash != prev:
            return VerifyResult(False, checked, event.id, "prev_hash does not match the previous event's hash")
        if not hmac.compare_digest(event.hash, compute_hash(prev, event, event.chain_seq)):
            return VerifyResult(False, checked, event.id, "hash does not match the event's contents")
        prev = event.hash
        expected_seq = event.chain_seq + 1
        checked += 1
    if checked == 0 and ranges:
        last = max(high for _low, high in ranges)
        with transaction.atomic(using=DEFAULT_DB_ALIAS):
            head_seq, head_hash = _head()
        if head_seq == last:  # everything is archived: the head's own hash is the last link
            expected_seq, prev = last + 1, head_hash
    return check_head_and_unsealed(checked, expected_seq - 1, prev)


def check_head_and_unsealed(checked: int, last_seq: int, last_hash: str) -> VerifyResult:
    """The walk reached the chain head (the newest events were not deleted) and nothing is unsealed."""
    with transaction.atomic(using=DEFAULT_DB_ALIAS):
        head_seq, head_hash = _head()
    if (head_seq, head_hash) != (last_seq, last_hash):
        # Deleting the newest sealed events leaves a shorter chain that is valid on its own.
        return VerifyResult(
            False,
            checked,
            None,
            f"the chain ends at {last_seq} but its head records {head_seq}: sealed events are missing",
        )
    from .anchor import check_anchor

    def hash_at(seq):
        return _primary().filter(chain_seq=seq).values_list("hash", flat=True).first()

    problem = check_anchor(head_seq, hash_at)
    if problem:
        return VerifyResult(False, checked, None, problem)
    first_unsealed = unsealed().values_list("id", flat=True).first()
    if first_unsealed is not None:
        return VerifyResult(False, checked, first_unsealed, "event is not sealed")
    return VerifyResult(True, checked)
