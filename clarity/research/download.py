"""A dataset's download, streamed: the manifest first, then the rows of its ready build.

NDJSON: line 1 is `{"manifest": {...}}`, each further line one row object.
CSV: line 1 is `# manifest: {...}` (a comment: `pandas.read_csv(..., comment="#")` and R's
`read.csv(..., comment.char = "#")` skip it), line 2 the header, then one row per line.
Rows are read through a cursor and written `ROWS_PER_CHUNK` at a time, so memory does not
grow with the dataset.
"""

import csv
import io
from collections.abc import Iterator

import orjson

from .selectors import DOWNLOAD_COLUMNS, download_rows

FETCH_CHUNK_ROWS = 2000
ROWS_PER_CHUNK = 2000
NDJSON = "application/x-ndjson"
CSV = "text/csv"


def public_manifest(dataset) -> dict:
    return {key: value for key, value in dataset.manifest.items() if not key.startswith("_")}


def _chunks(dataset) -> Iterator[list[tuple]]:
    batch = []
    for row in download_rows(dataset, chunk_size=FETCH_CHUNK_ROWS):
        batch.append(row)
        if len(batch) == ROWS_PER_CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _row_dict(row: tuple) -> dict:
    # Empty strings are "not applicable" in storage; null in the download.
    return {name: (None if value == "" else value) for name, value in zip(DOWNLOAD_COLUMNS, row, strict=True)}


def ndjson_chunks(dataset) -> Iterator[bytes]:
    yield orjson.dumps({"manifest": public_manifest(dataset)}) + b"\n"
    for batch in _chunks(dataset):
        yield b"".join(orjson.dumps(_row_dict(row)) + b"\n" for row in batch)


def csv_chunks(dataset) -> Iterator[bytes]:
    yield b"# manifest: " + orjson.dumps(public_manifest(dataset)) + b"\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DOWNLOAD_COLUMNS)
    yield buffer.getvalue().encode()
    for batch in _chunks(dataset):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(("" if value is None else value for value in row) for row in batch)
        yield buffer.getvalue().encode()
