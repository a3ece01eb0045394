"""The patient export: everything held about one patient as ONE JSON document, streamed.

    {"patient": {...}, "care_team": [...], "twins": [{..., "revisions": [...]}],
     "interactions": [...], "exported_at": "..."}

The small parts (patient, care team, twins with revisions) are read before the response
starts, together with the access check and the `export` audit event, so every error is a
proper status code. Interactions — possibly millions — are then read through a cursor and
written out `ROWS_PER_CHUNK` at a time with one orjson call per chunk, in the same
representation as the interactions API, so memory does not grow with the log.
"""

from collections.abc import Iterator

import orjson

from clarity.api.renderers import dumps

from .selectors import interaction_rows_for_export

FETCH_CHUNK_ROWS = 2000
ROWS_PER_CHUNK = 1000


def _rows_json(patient: str, rows: list[tuple]) -> bytes:
    """`{…},{…}` for a chunk of EXPORT_COLUMNS rows: the interaction representation of the
    API (orjson writes UUIDs as strings and UTC datetimes as "…Z", as the DRF fields do),
    without the array's brackets."""
    return orjson.dumps(
        [
            {
                "id": pk,
                "patient": patient,
                "twin": twin,
                "actor": actor,
                "kind": kind,
                "payload": orjson.Fragment(payload),
                "occurred_at": occurred_at,
                "recorded_at": recorded_at,
            }
            for pk, twin, actor, kind, payload, occurred_at, recorded_at in rows
        ],
        option=orjson.OPT_UTC_Z,
    )[1:-1]


def export_chunks(*, patient_id, head: dict, exported_at: str) -> Iterator[bytes]:
    """
    The document as byte chunks. `head` holds "patient", "care_team" and "twins" already
    in their API representation.
    """
    yield (
        b'{"patient":' + dumps(head["patient"])
        + b',"care_team":' + dumps(head["care_team"])
        + b',"twins":' + dumps(head["twins"])
        + b',"interactions":['
    )
    patient = str(patient_id)
    first = True
    batch = []
    for row in interaction_rows_for_export(patient_id, chunk_size=FETCH_CHUNK_ROWS):
        batch.append(row)
        if len(batch) == ROWS_PER_CHUNK:
            yield (b"" if first else b",") + _rows_json(patient, batch)
            first = False
            batch = []
    if batch:
        yield (b"" if first else b",") + _rows_json(patient, batch)
    yield b'],"exported_at":' + dumps(exported_at) + b"}"
