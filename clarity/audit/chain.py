"""The tamper-evident audit chain.

Every event gets `chain_seq` (1, 2, 3, … in sealing order), `prev_hash` (the previous
event's hash; 64 zeros for the first) and
`hash = HMAC-SHA256(AUDIT_HMAC_KEY, prev_hash ‖ canonical JSON of the event)`.

Events are written unsealed inside the request's own transaction, so writers never wait
on each other. After commit, `seal_pending()` chains every committed, unsealed event it
finds, in id order, under a transaction-scoped advisory lock taken with
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


def canonical(event: AuditEvent, chain_seq: int) -> bytes:
    data = {name: _canonical_value(getattr(event, name)) for name in CANONICAL_FIELDS if name != "chain_seq"}
    data["chain_seq"] = chain_seq
    data["patient_id"] = str(event.patient_id) if event.patient_id else None
    data["actor_id"] = str(event.actor_id) if event.actor_id else None
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(prev_hash: str, event: AuditEvent, chain_seq: int) -> str:
    key = settings.AUDIT_HMAC_KEY
    return hmac.new(key, prev_hash.encode() + canonical(event, chain_seq), hashlib.sha256).hexdigest()


def _primary():
    # The sealer and the verifier read the chain where it is written: a replica may lag,
    # and sealing after a stale head would fork the chain.
    return AuditEvent.objects.using(DEFAULT_DB_ALIAS)


def _try_lock() -> bool:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
            return bool(cursor.fetchone()[0])
    # SQLite: the IMMEDIATE transaction already holds the database's single write lock.
    return True


def seal_pending(*, max_rounds: int = 50) -> int:
    """Seal committed, unsealed events. Returns how many were sealed (0 if another sealer holds the lock)."""
    sealed = 0
    for _ in range(max_rounds):
        with transaction.atomic():
            if not _try_lock():
                return sealed
            last = _primary().filter(chain_seq__isnull=False).order_by("-chain_seq").values_list("chain_seq", "hash").first()
            seq, prev = last if last else (0, GENESIS)
            batch = list(_primary().filter(hash__isnull=True).order_by("id")[:SEAL_BATCH])
            if not batch:
                return sealed
            rows = []
            for event in batch:
                seq += 1
                digest = compute_hash(prev, event, seq)
                rows.append((seq, prev, digest, event.id))
                prev = digest
            _write_seals(rows)
            sealed += len(rows)
        if len(batch) < SEAL_BATCH:
            return sealed
    return sealed


def _write_seals(rows: list[tuple[int, str, str, int]]) -> None:
    """All of a round's seals in ONE statement (UPDATE ... FROM VALUES; SQLite >= 3.33 has
    it too): one statement per event made sealing a 50-patient list page cost 50 round trips."""
    cast = "::bigint" if connection.vendor == "postgresql" else ""
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        values = ", ".join(f"(%s{cast}, %s, %s, %s{cast})" for _ in chunk)
        params = [value for row in chunk for value in row]
        # VALUES columns are column1..4 on both databases: (chain_seq, prev_hash, hash, id).
        # Only %s placeholders are interpolated into the statement; the values are parameters.
        sql = (
            "UPDATE audit_auditevent SET chain_seq = v.column1, prev_hash = v.column2, hash = v.column3 "  # noqa: S608
            f"FROM (VALUES {values}) AS v "
            "WHERE audit_auditevent.id = v.column4 AND audit_auditevent.hash IS NULL"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def seal_soon() -> None:
    """After-commit hook: seal, at most once per AUDIT_SEAL_INTERVAL seconds per process."""
    global _last_attempt
    now = time.monotonic()
    if now - _last_attempt < settings.AUDIT_SEAL_INTERVAL:
        return
    _last_attempt = now
    try:
        seal_pending()
    except Exception:  # noqa: BLE001 - sealing is retried by the next writer or verify_audit
        import logging

        logging.getLogger("clarity.audit").warning("audit_seal_deferred")


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    bad_event_id: int | None = None
    reason: str = ""


def verify_chain() -> VerifyResult:
    """Walk the chain in chain_seq order; report the first event that breaks it."""
    expected_seq = 1
    prev = GENESIS
    checked = 0
    queryset = _primary().filter(chain_seq__isnull=False).order_by("chain_seq")
    for event in queryset.iterator(chunk_size=2000):
        if event.chain_seq != expected_seq:
            return VerifyResult(False, checked, event.id, f"chain_seq {event.chain_seq} where {expected_seq} was expected (a row is missing)")
        if event.prev_hash != prev:
            return VerifyResult(False, checked, event.id, "prev_hash does not match the previous event's hash")
        if not hmac.compare_digest(event.hash, compute_hash(prev, event, event.chain_seq)):
            return VerifyResult(False, checked, event.id, "hash does not match the event's contents")
        prev = event.hash
        expected_seq += 1
        checked += 1
    unsealed = _primary().filter(hash__isnull=True).order_by("id").values_list("id", flat=True).first()
    if unsealed is not None:
        return VerifyResult(False, checked, unsealed, "event is not sealed")
    return VerifyResult(True, checked)
