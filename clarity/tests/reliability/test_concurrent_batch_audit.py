"""Concurrent batches: the audit events of each batch name exactly its rows.

Clients post 100-item batches at once to the production server (2 workers). A batch's ids
are drawn together before its rows are inserted (interactions/services.py), so another
insert rarely interleaves with them and the batch is one event naming one range; when two
batches draw at the same instant their ids can still interleave, and the batch falls back
to more events. Either way, the events of a request name its rows, no more and no less.
The drawing itself is tested deterministically in interactions/tests/test_batch_ids.py.
"""

import datetime
import threading

import httpx
import psycopg
import pytest

from clarity.tests.reliability.harness import ServerProcess

pytestmark = pytest.mark.postgres_only

CLIENTS = 6
BATCHES = 5
SIZE = 100


@pytest.fixture(scope="module")
def two_workers(direct_env, world):
    process = ServerProcess(direct_env, workers=2).start()
    yield process
    process.close()


def test_the_events_of_each_concurrent_batch_name_exactly_its_rows(two_workers, world, pg, rel_db):
    token = world["tokens"]["clinician"]
    created: list[tuple[str, list[int]]] = []
    failures: list[object] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(index: int):
        patient = world["patients"][index % len(world["patients"])]
        occurred = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(days=index)
        body = [
            {"kind": "observation", "payload": {"client": index, "item": i}, "occurred_at": occurred.isoformat()}
            for i in range(SIZE)
        ]
        with httpx.Client(base_url=two_workers.url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
            start.wait()
            for _ in range(BATCHES):
                response = http.post(f"/api/v1/patients/{patient}/interactions/", json=body)
                with lock:
                    if response.status_code != 201:
                        failures.append((response.status_code, response.text[:200]))
                    else:
                        created.append((response.headers["X-Request-ID"], [row["id"] for row in response.json()]))

    threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not failures and len(created) == CLIENTS * BATCHES
    with psycopg.connect(pg.url(rel_db)) as connection:
        for request_id, ids in created:
            events = connection.execute(
                "SELECT resource_id FROM audit_auditevent"
                " WHERE request_id = %s AND action = 'create' AND resource_type = 'interaction'",
                [request_id],
            ).fetchall()
            named = sorted(row_id for (reference,) in events for row_id in _expand(reference))
            assert named == sorted(ids), (request_id, len(events))


def _expand(reference: str) -> list[int]:
    ids = []
    for run in reference.split(","):
        low, _, high = run.partition("-")
        ids.extend(range(int(low), int(high or low) + 1))
    return ids
