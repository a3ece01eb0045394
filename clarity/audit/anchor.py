"""An external anchor for the audit chain's head (closes the gap noted in issue #5).

The chain alone cannot show that its newest events were deleted (together with the
head row, by someone with database rights). Every few minutes `manage.py audit_anchor`
(from cron or a systemd timer) appends the newest sealed link — chain_seq, hash, time —
HMAC-signed with AUDIT_HMAC_KEY, to a store outside the database; `verify_audit` then
fails if the database's chain does not reach the latest anchor or has another hash there.

The store is pluggable (AUDIT_ANCHOR_STORE, a dotted path): the default appends lines to
the file AUDIT_ANCHOR_PATH (put it on another host or an append-only mount: `chattr +a`);
an object-storage store with a retention lock (S3 Object Lock, GCS bucket lock) needs only
`append(record)` and `latest()`.
"""

import hashlib
import hmac
import json
import os
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone
from django.utils.module_loading import import_string


class AnchorStore:
    """Where anchors go. `append` must never overwrite; `latest` returns the newest record or None."""

    def append(self, record: dict) -> None:
        raise NotImplementedError

    def latest(self) -> dict | None:
        raise NotImplementedError


class FileAnchorStore(AnchorStore):
    def __init__(self, path: str | None = None):
        self.path = Path(path or settings.AUDIT_ANCHOR_PATH)

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND: each anchor is added after the others, never in place of one.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def latest(self) -> dict | None:
        if not self.path.exists():
            return None
        last = None
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    last = line
        return json.loads(last) if last else None


def configured_store() -> AnchorStore | None:
    if not settings.AUDIT_ANCHOR_PATH and settings.AUDIT_ANCHOR_STORE.endswith("FileAnchorStore"):
        return None
    return import_string(settings.AUDIT_ANCHOR_STORE)()


def _mac(seq: int, digest: str, anchored_at: str) -> str:
    message = f"clarity-audit-anchor:{seq}:{digest}:{anchored_at}".encode()
    return hmac.new(settings.AUDIT_HMAC_KEY, message, hashlib.sha256).hexdigest()


def write_anchor(store: AnchorStore | None = None) -> dict | None:
    """Anchor the newest sealed link (after sealing what is pending). None when no store is configured."""
    from .chain import _head, seal_pending

    store = store or configured_store()
    if store is None:
        return None
    seal_pending(max_rounds=10**9)
    with transaction.atomic(using=DEFAULT_DB_ALIAS):
        seq, digest = _head()
    anchored_at = timezone.now().isoformat(timespec="microseconds")
    record = {"chain_seq": seq, "hash": digest, "anchored_at": anchored_at, "mac": _mac(seq, digest, anchored_at)}
    store.append(record)
    return record


def check_anchor(head_seq: int, hash_at) -> str:
    """'' if the chain (ending at `head_seq`; `hash_at(seq)` gives a link's hash or None if
    archived) reaches the latest anchor with the same hash there; else what is wrong."""
    store = configured_store()
    if store is None:
        return ""
    try:
        anchor = store.latest()
    except (OSError, ValueError):
        return "the latest anchor cannot be read"
    if anchor is None:
        return ""
    try:
        seq, digest, at, mac = int(anchor["chain_seq"]), anchor["hash"], anchor["anchored_at"], anchor["mac"]
    except (KeyError, TypeError, ValueError):
        return "the latest anchor is malformed"
    if not hmac.compare_digest(mac, _mac(seq, digest, at)):
        return "the latest anchor's signature is invalid"
    if head_seq < seq:
        return f"the chain ends at {head_seq} but was anchored at {seq} on {at}: sealed events were deleted"
    found = hash_at(seq) if seq else digest
    if found is not None and found != digest:
        return f"the chain's link {seq} differs from the one anchored on {at}"
    return ""
