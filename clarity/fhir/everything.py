"""`Patient/{id}/$everything`: the patient and every assessment Observation as one Bundle, streamed.

The Patient entry is written first; Observations follow newest first, read through a
cursor `FETCH_CHUNK_ROWS` at a time and written `ENTRIES_PER_CHUNK` per chunk, so memory
does not grow with the record.
"""

from collections.abc import Iterator

from clarity.formats import dumps, iso_datetime
from interactions.selectors import assessments_of

from .resources import INSTRUMENT_CODES, entry, observation_resource, patient_resource

FETCH_CHUNK_ROWS = 2000
ENTRIES_PER_CHUNK = 500


def everything_chunks(base: str, patient, *, generated_at) -> Iterator[bytes]:
    head = {"resourceType": "Bundle", "type": "searchset", "timestamp": iso_datetime(generated_at)}
    yield dumps(head)[:-1] + b',"entry":[' + dumps(entry(base, patient_resource(patient)))
    rows = (
        assessments_of(patient.pk, instruments=list(INSTRUMENT_CODES))
        .order_by("-occurred_at", "-id")
        .only("id", "patient_id", "payload", "occurred_at", "recorded_at")
        .iterator(chunk_size=FETCH_CHUNK_ROWS)
    )
    batch = []
    for row in rows:
        batch.append(b"," + dumps(entry(base, observation_resource(row))))
        if len(batch) == ENTRIES_PER_CHUNK:
            yield b"".join(batch)
            batch = []
    yield b"".join(batch) + b"]}"
