"""SIGTERM to `python -m clarity.serve` during load: requests already accepted finish with
2xx (none sees a reset), new connections are refused, and the server exits 0.
"""

import threading
import time

import httpx
import psycopg
import pytest

from clarity.tests.reliability.harness import ServerProcess
from clarity.tests.reliability.test_db_outage import _wait_for_lock_waiter

pytestmark = pytest.mark.postgres_only

IN_FLIGHT = 8


def test_sigterm_lets_in_flight_requests_finish_and_exits_cleanly(direct_env, world, pg, rel_db):
    server = ServerProcess(direct_env, workers=2, graceful_timeout=15).start()
    try:
        token = world["tokens"]["clinician"]
        headers = {"Authorization": f"Bearer {token}"}
        reads = [f"/api/v1/patients/{world['patients'][i % 3]}/" for i in range(IN_FLIGHT // 2)]
        writes = [f"/api/v1/patients/{world['patients'][i % 3]}/interactions/" for i in range(IN_FLIGHT - len(reads))]
        results: dict[int, object] = {}

        def call(index, method, path):
            body = {"kind": "note", "payload": {"text": "shutdown"}, "occurred_at": "2026-03-01T10:00:00+00:00"}
            try:
                with httpx.Client(base_url=server.url, timeout=40) as client:
                    if method == "GET":
                        results[index] = client.get(path, headers=headers)
                    else:
                        results[index] = client.post(path, json=body, headers=headers)
            except httpx.HTTPError as exc:
                results[index] = exc

        # Given requests in flight on both workers, held inside their transactions (the
        # audit table is locked, so each waits to write its audit event)
        with psycopg.connect(pg.url(rel_db)) as locker:
            locker.execute("LOCK TABLE audit_auditevent IN EXCLUSIVE MODE")
            calls = [("GET", p) for p in reads] + [("POST", p) for p in writes]
            threads = [threading.Thread(target=call, args=(i, m, p)) for i, (m, p) in enumerate(calls)]
            for thread in threads:
                thread.start()
            _wait_for_waiters(pg, rel_db, IN_FLIGHT)
            # When the server is told to stop
            server.terminate()
            time.sleep(1.0)
            # Then it stops accepting new connections while the accepted requests wait
            assert server.proc.poll() is None
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"{server.url}/health/live/", timeout=5)
            locker.rollback()  # let the in-flight requests run to completion
        for thread in threads:
            thread.join(timeout=30)

        # and every accepted request completed with 2xx, none was reset
        statuses = [getattr(results.get(i), "status_code", results.get(i)) for i in range(IN_FLIGHT)]
        assert statuses == [200] * len(reads) + [201] * len(writes), statuses
        # and the server exits cleanly within its graceful timeout
        assert server.wait(timeout=20) == 0
    finally:
        server.close()


def _wait_for_waiters(pg, dbname, count: int, timeout: float = 20):
    deadline = time.monotonic() + timeout
    with psycopg.connect(pg.url(dbname), autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", [dbname]
            ).fetchone()[0]
            if waiting >= count:
                return
            time.sleep(0.05)
    _wait_for_lock_waiter(pg, dbname, timeout=0.1)
    raise AssertionError(f"fewer than {count} requests blocked on the lock")
