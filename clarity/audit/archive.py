"""Archival of old audit months, and verification of archives plus the live chain.

`archive_before(month, directory)` (manage.py audit_archive --before YYYY-MM): for each
monthly partition that ends on or before `month` — never one younger than
AUDIT_RETENTION_MONTHS — seal what is pending, detach the partition, write its events in
chain order to `<partition>.ndjson.gz` (a header line with the first/last links, then one
line per event: the hashed fields, prev_hash and hash), write an HMAC of the file beside
it (`.hmac`), read the file back and verify every event's hash, record it in
AuditArchive, and only then drop the partition — all in one transaction, so a failure
re-attaches the partition and leaves nothing half done.

`verify_with_archives(directory)` merges the archived files and the live table in
chain_seq order and walks the whole chain from its genesis; a missing, edited or
reordered file is named.
"""

import datetime
import gzip
import hashlib
import heapq
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, transaction

from clarity.partitions import add_months, month_start

from .chain import GENESIS, VerifyResult, canonical_fields, hash_fields, seal_pending
from .models import AuditArchive, AuditEvent
from .partitions import TABLE, audit_partitions

FORMAT = "clarity-audit-archive/1"


class ArchiveError(Exception):
    pass


def file_hmac(path: Path) -> str:
    mac = hmac.new(settings.AUDIT_HMAC_KEY, b"clarity-audit-archive:", hashlib.sha256)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            mac.update(block)
    return mac.hexdigest()


def oldest_archivable() -> datetime.date:
    """The first month that must stay in the database (AUDIT_RETENTION_MONTHS before this one)."""
    return add_months(month_start(datetime.datetime.now(datetime.UTC)), -settings.AUDIT_RETENTION_MONTHS)


def archive_before(before: datetime.date, directory: Path) -> list[AuditArchive]:
    if connection.vendor != "postgresql":
        raise ArchiveError("Archival works on PostgreSQL's monthly partitions; SQLite keeps one table.")
    before = month_start(before)
    if before > oldest_archivable():
        raise ArchiveError(
            f"{before:%Y-%m} is inside the retention period ({settings.AUDIT_RETENTION_MONTHS} months): "
            f"nothing younger than {oldest_archivable():%Y-%m} is archived."
        )
    directory.mkdir(parents=True, exist_ok=True)
    seal_pending(max_rounds=10**9)
    done = []
    for partition in audit_partitions():
        if partition.start is None or partition.end > before:
            continue
        done.append(_archive_one(partition, directory))
    return done


def _archive_one(partition, directory: Path) -> AuditArchive:
    name = partition.name
    path = directory / f"{name}.ndjson.gz"
    if path.exists():
        raise ArchiveError(f"{path} already exists: refusing to overwrite an archive.")
    with transaction.atomic(using=DEFAULT_DB_ALIAS), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
        cursor.execute(f"SELECT count(*) FILTER (WHERE hash IS NULL), count(*) FROM {name}")  # noqa: S608
        unsealed, count = cursor.fetchone()
        if unsealed:
            raise ArchiveError(f"{name} holds {unsealed} unsealed event(s): run verify_audit (it seals) first.")
        events = AuditEvent.objects.raw(f"SELECT * FROM {name} ORDER BY chain_seq")  # noqa: S608
        first = last = None
        tmp = path.with_suffix(".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8") as out:
            rows = []
            for event in events.iterator():
                row = {
                    "fields": canonical_fields(event, event.chain_seq),
                    "prev_hash": event.prev_hash,
                    "hash": event.hash,
                }
                first = first or row
                last = row
                rows.append(json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
            header = {
                "format": FORMAT,
                "partition": name,
                "from": partition.start.isoformat(),
                "to": partition.end.isoformat(),
                "events": count,
                "first_seq": first["fields"]["chain_seq"] if first else None,
                "first_prev_hash": first["prev_hash"] if first else None,
                "last_seq": last["fields"]["chain_seq"] if last else None,
                "last_hash": last["hash"] if last else None,
            }
            out.write(json.dumps(header, sort_keys=True) + "\n")
            for line in rows:
                out.write(line + "\n")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        mac = file_hmac(path)
        path.with_name(path.name + ".hmac").write_text(mac + "\n")
        problem = _check_file(path, mac, expected_events=count)
        if problem:
            path.unlink()
            raise ArchiveError(f"{name}: the written archive does not verify ({problem}); the partition is kept.")
        record = AuditArchive.objects.using(DEFAULT_DB_ALIAS).create(
            partition=name, month=partition.start, file_name=path.name, file_hmac=mac, events=count,
            first_seq=header["first_seq"], last_seq=header["last_seq"],
        )  # fmt: skip
        cursor.execute(f"DROP TABLE {name}")
    return record


def _read(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        header = json.loads(handle.readline())
        for line in handle:
            yield header, json.loads(line)


def _check_file(path: Path, mac: str, *, expected_events: int | None = None) -> str:
    """'' when the file's HMAC, order and every event's own hash hold; else what is wrong."""
    if not hmac.compare_digest(file_hmac(path), mac):
        return "its HMAC does not match: the file was edited"
    previous = None
    n = 0
    try:
        for _header, row in _read(path):
            seq = row["fields"]["chain_seq"]
            if previous is not None and seq <= previous:
                return f"events are out of chain order at chain_seq {seq}: the file was reordered"
            if not hmac.compare_digest(row["hash"], hash_fields(row["prev_hash"], row["fields"])):
                return f"event at chain_seq {seq} does not match its hash"
            previous = seq
            n += 1
    except (OSError, EOFError, ValueError, KeyError) as exc:
        return f"unreadable ({type(exc).__name__})"
    if expected_events is not None and n != expected_events:
        return f"{n} events where {expected_events} were expected"
    return ""


@dataclass
class _Link:
    seq: int
    prev_hash: str
    hash: str
    fields: dict | None
    source: str
    event_id: int | None


def _archive_links(record: AuditArchive, path: Path):
    for _header, row in _read(path):
        yield _Link(
            row["fields"]["chain_seq"],
            row["prev_hash"],
            row["hash"],
            row["fields"],
            record.file_name,
            row["fields"]["id"],
        )


def _live_links():
    queryset = AuditEvent.objects.using(DEFAULT_DB_ALIAS).filter(chain_seq__isnull=False).order_by("chain_seq")
    for event in queryset.iterator(chunk_size=2000):
        yield _Link(
            event.chain_seq, event.prev_hash, event.hash, canonical_fields(event, event.chain_seq), "live", event.id
        )


def verify_with_archives(directory: Path) -> VerifyResult:
    """The whole chain from genesis: every archived file listed in AuditArchive, then the live table."""
    streams = []
    for record in AuditArchive.objects.using(DEFAULT_DB_ALIAS).order_by("month"):
        path = directory / record.file_name
        if not path.exists():
            return VerifyResult(False, 0, None, f"archive file {record.file_name} is missing from {directory}")
        problem = _check_file(path, record.file_hmac, expected_events=record.events)
        if problem:
            return VerifyResult(False, 0, None, f"archive file {record.file_name}: {problem}")
        streams.append(_archive_links(record, path))
    streams.append(_live_links())
    expected, prev, checked = 1, GENESIS, 0
    for link in heapq.merge(*streams, key=lambda item: item.seq):
        where = f"{link.source} event {link.event_id}"
        if link.seq != expected:
            return VerifyResult(
                False,
                checked,
                link.event_id,
                f"{where}: chain_seq {link.seq} where {expected} was expected (a row is missing)",
            )
        if link.prev_hash != prev:
            return VerifyResult(
                False, checked, link.event_id, f"{where}: prev_hash does not match the previous event's hash"
            )
        if not hmac.compare_digest(link.hash, hash_fields(prev, link.fields)):
            return VerifyResult(False, checked, link.event_id, f"{where}: hash does not match the event's contents")
        prev, expected, checked = link.hash, expected + 1, checked + 1
    from .chain import check_head_and_unsealed

    return check_head_and_unsealed(checked, expected - 1, prev)
