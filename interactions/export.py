"""The patient export: everything held about one patient as ONE JSON document, streamed.

    {"patient": {...}, "care_team": [...], "twins": [{..., "revisions": [...]}],
     "interactions": [...], "exported_at": "..."}

The small parts (patient, care team, twins with revisions) are read before the response
starts, together with the access check, the `export` audit event and the upper bound (the
newest interaction id), so every error is a proper status code. Interactions — possibly
millions — are then read `ROWS_PER_CHUNK` at a time by keyset paging, each page one short
query, and written out with one orjson call per page, in the same representation as the
interactions API, so memory does not grow with the log.

One client must not starve the others (README, "Reliability"):
- the database connection is given back to the pool after every page, so a reader who
  reads slowly holds a socket and a little memory, not a pooled connection;
- at most EXPORT_MAX_PER_WORKER exports stream at once per worker process, and at most
  EXPORT_MAX_PER_CALLER of them for one caller; beyond either, 429 with Retry-After;
- a reader who stops reading is cut by the server's send timeout (HTTP_SEND_TIMEOUT,
  clarity/http_protocol.py).
"""

import threading
from collections import Counter
from collections.abc import Iterator

from django.conf import settings
from django.db import connection

from clarity.errors import Busy
from clarity.formats import dumps

from .selectors import LOG_COLUMNS, LogRow, interaction_page_for_export
from .serializers import interaction_representation

ROWS_PER_CHUNK = 1000
RETRY_AFTER_SECONDS = 10
_OCCURRED_AT = LOG_COLUMNS.index("occurred_at")


class ExportSlot:
    """One export streaming; released once, whichever of stream end, response close or error comes first."""

    def __init__(self, slots: "ExportSlots", caller):
        self._slots, self._caller, self._held = slots, caller, True

    def release(self) -> None:
        with self._slots.lock:
            if self._held:
                self._held = False
                self._slots.total -= 1
                self._slots.by_caller[self._caller] -= 1
                if not self._slots.by_caller[self._caller]:
                    del self._slots.by_caller[self._caller]


class ExportSlots:
    """The exports streaming in this worker process (a per-process count: each worker has its own)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.total = 0
        self.by_caller: Counter = Counter()

    def acquire(self, caller) -> ExportSlot:
        """A slot for one more export by `caller`, or Busy (retry after RETRY_AFTER_SECONDS)."""
        with self.lock:
            if self.total >= settings.EXPORT_MAX_PER_WORKER:
                raise Busy(
                    "The server is streaming as many exports as it allows; retry later.",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            if self.by_caller[caller] >= settings.EXPORT_MAX_PER_CALLER:
                raise Busy(
                    "You are already streaming as many exports as allowed; retry when one ends.",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            self.total += 1
            self.by_caller[caller] += 1
        return ExportSlot(self, caller)


SLOTS = ExportSlots()


def release_db_connection() -> None:
    """
    Give this thread's database connection back between chunks of the export: to the pool
    on PostgreSQL (Django's pool hands it out again on the next query). A client reading
    slowly then holds no connection while it reads: 40 slow export readers used to hold 32
    pooled connections, and every other request waited for one and got 503.
    Inside a transaction (the test suite wraps each test in one) nothing is released.
    """
    if not connection.in_atomic_block:
        connection.close()


def _rows_json(patient: str, rows: list[tuple]) -> bytes:
    """`{…},{…}` for a chunk of LOG_COLUMNS rows, in the interactions API's representation,
    without the array's brackets."""
    return dumps([interaction_representation(LogRow(patient, row)) for row in rows])[1:-1]


def export_chunks(
    *, patient_id, head: dict, exported_at: str, up_to_id: int, slot: ExportSlot | None = None
) -> Iterator[bytes]:
    """
    The document as byte chunks. `head` holds "patient", "care_team" and "twins" already
    in their API representation; interactions are those with ids up to `up_to_id`.
    The database connection is released before each chunk is handed out.
    """
    try:
        release_db_connection()
        yield (
            b'{"patient":'
            + dumps(head["patient"])
            + b',"care_team":'
            + dumps(head["care_team"])
            + b',"twins":'
            + dumps(head["twins"])
            + b',"interactions":['
        )
        patient = str(patient_id)
        after = None
        while True:
            rows = interaction_page_for_export(patient_id, up_to_id=up_to_id, after=after, rows=ROWS_PER_CHUNK)
            release_db_connection()
            if rows:
                yield (b"" if after is None else b",") + _rows_json(patient, rows)
            if len(rows) < ROWS_PER_CHUNK:
                break
            after = (rows[-1][_OCCURRED_AT], rows[-1][0])
        yield b'],"exported_at":' + dumps(exported_at) + b"}"
    finally:
        if slot is not None:
            slot.release()
