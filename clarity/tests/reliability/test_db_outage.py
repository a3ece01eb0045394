"""The database goes away under load: 503 problem+json with Retry-After, never a 500 or a
hang; /health/ready/ says 503 while /health/live/ stays 200; the same server process
recovers within 5 s of the database coming back; a write cut mid-transaction stores nothing.
"""

import sys
import threading
import time

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.postgres_only

# The longest any request may take while the database is gone: the pool waits at most
# DATABASE_POOL_TIMEOUT for a connection, a connection attempt at most DATABASE_CONNECT_TIMEOUT.
REQUEST_BOUND_SECONDS = 8.0
RECOVERY_BOUND_SECONDS = 5.0
OUTAGE_SECONDS = 18.0


class Load:
    """`clients` threads sending requests in a loop; every outcome recorded."""

    def __init__(self, server, make_request, clients: int = 4):
        self.server, self.make_request, self.clients = server, make_request, clients
        self.results: list[tuple[float, float, int | str, httpx.Response | None]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(clients)]

    def _loop(self, index):
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            n = 0
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    response = self.make_request(client, index, n)
                    outcome = response.status_code
                except httpx.HTTPError as exc:
                    response, outcome = None, type(exc).__name__
                with self._lock:
                    self.results.append((started, time.monotonic() - started, outcome, response))
                n += 1
                time.sleep(0.02)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def assert_unavailable_problem(response: httpx.Response):
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["status"] == 503 and body["title"] == "Service Unavailable"


def wait_until_ok(server, path, token, bound: float) -> float:
    """Poll `path` until it answers 200; return how long that took."""
    started = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=REQUEST_BOUND_SECONDS + 2) as client:
        while True:
            response = client.get(path, headers={"Authorization": f"Bearer {token}"} if token else {})
            if response.status_code == 200:
                return time.monotonic() - started
            assert time.monotonic() - started < bound, f"{path} still {response.status_code} after {bound}s"
            time.sleep(0.1)


def test_database_outage_under_load_answers_503_and_recovers_within_5s(server, healthy_proxy, world):
    # Given clients reading a patient and listing patients through the production server
    token = world["tokens"]["clinician"]
    patient = world["patients"][0]

    def request(client, index, n):
        path = f"/api/v1/patients/{patient}/" if (index + n) % 2 else "/api/v1/patients/?page_size=5"
        return client.get(path, headers={"Authorization": f"Bearer {token}"})

    with Load(server, request, clients=4) as load:
        time.sleep(1.0)
        # When the database vanishes (every connection reset, new ones refused)
        cut_at = time.monotonic()
        healthy_proxy.cut()
        time.sleep(1.0)
        with httpx.Client(base_url=server.url, timeout=REQUEST_BOUND_SECONDS + 2) as probe:
            started = time.monotonic()
            ready = probe.get("/health/ready/")
            ready_seconds = time.monotonic() - started
            live = probe.get("/health/live/")
            during = probe.get(f"/api/v1/patients/{patient}/", headers={"Authorization": f"Bearer {token}"})
        # (long enough that reconnection back-off would otherwise outlast the outage)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
        # And comes back
        healthy_proxy.restore()
        restored_at = time.monotonic()
        recovery = wait_until_ok(server, f"/api/v1/patients/{patient}/", token, bound=RECOVERY_BOUND_SECONDS)
        time.sleep(0.5)

    # Then probes and API say so: ready 503, live 200, the API 503 problem+json
    assert ready.status_code == 503 and ready.headers["retry-after"]
    assert ready_seconds < REQUEST_BOUND_SECONDS
    assert live.status_code == 200
    assert_unavailable_problem(during)
    # and no client ever saw a 500, a dropped connection or a hang
    outcomes = {outcome for _, _, outcome, _ in load.results}
    assert outcomes <= {200, 503}, outcomes
    for _, _, outcome, response in load.results:
        if outcome == 503:
            assert_unavailable_problem(response)
    slowest = max(duration for _, duration, _, _ in load.results)
    assert slowest < REQUEST_BOUND_SECONDS, f"a request took {slowest:.1f}s"
    assert any(o == 503 for s, _, o, _ in load.results if cut_at < s < restored_at)
    # and the same process recovered within 5 s
    assert recovery < RECOVERY_BOUND_SECONDS
    assert server.proc.poll() is None
    served_after = [o for s, _, o, _ in load.results if s > restored_at + recovery]
    assert served_after and set(served_after) == {200}
    sys.stdout.write(
        f"\noutage: ready probe {ready_seconds:.2f}s, slowest request {slowest:.2f}s, recovery {recovery:.2f}s\n"
    )


def test_connections_the_network_dropped_while_idle_cost_a_request_nothing(server, healthy_proxy, world):
    # Given a server whose workers each hold idle pooled connections (at least the pool's
    # minimum of two), reached over fresh client connections so both workers serve
    token = world["tokens"]["clinician"]
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    for _ in range(6):
        assert httpx.get(f"{server.url}/api/v1/users/me/", headers=headers, timeout=10).status_code == 200
    # When the network resets every connection while they sit idle, and is back at once
    healthy_proxy.cut()
    healthy_proxy.restore()
    time.sleep(0.2)
    # Then the next requests are served at once: the dead connections are thrown away and
    # new ones made, not waited on (psycopg_pool's own check sleeps 1 s, then 2 s, after
    # each dead one, and a request meeting two was answered 503 after 3 s)
    timings = []
    for _ in range(6):
        started = time.monotonic()
        response = httpx.get(f"{server.url}/api/v1/users/me/", headers=headers, timeout=10)
        timings.append(time.monotonic() - started)
        assert response.status_code == 200, response.text
    assert max(timings) < 0.9, timings


def _patient_write(world):
    mrn = f"CUT-{time.time_ns()}"
    body = {"mrn": mrn, "given_name": "Cut", "family_name": "Midway", "date_of_birth": "1990-01-01", "sex": "unknown"}
    return "/api/v1/patients/", body, {}, ("SELECT count(*) FROM patients_patient WHERE mrn = %s", [mrn])


def _batch_write(world):
    key = f"cut-{time.time_ns()}"
    body = [
        {"kind": "observation", "payload": {"n": n}, "occurred_at": f"2026-02-01T00:{n // 60:02d}:{n % 60:02d}+00:00"}
        for n in range(500)
    ]
    check = (
        "SELECT (SELECT count(*) FROM interactions_interactionlog WHERE idempotency_key LIKE %s)"
        " + (SELECT count(*) FROM interactions_idempotencyrecord WHERE key = %s)",
        [key + ":%", key],
    )
    return f"/api/v1/patients/{world['patients'][1]}/interactions/", body, {"Idempotency-Key": key}, check


@pytest.mark.parametrize("write", [_patient_write, _batch_write], ids=["patient-create", "interaction-batch"])
def test_write_cut_mid_transaction_answers_503_and_stores_nothing(write, server, healthy_proxy, world, pg, rel_db):
    # Given a write blocked inside its transaction: the audit table is locked, so the
    # request has inserted its rows and waits to insert its audit event
    token = world["tokens"]["clinician"]
    path, body, headers, (count_sql, count_args) = write(world)
    outcome = {}

    def post():
        with httpx.Client(base_url=server.url, timeout=30) as client:
            started = time.monotonic()
            outcome["response"] = client.post(path, json=body, headers={"Authorization": f"Bearer {token}", **headers})
            outcome["seconds"] = time.monotonic() - started

    with psycopg.connect(pg.url(rel_db)) as locker:
        locker.execute("LOCK TABLE audit_auditevent IN EXCLUSIVE MODE")
        thread = threading.Thread(target=post)
        thread.start()
        _wait_for_lock_waiter(pg, rel_db, outcome, server)
        # When the database connection is cut while that transaction is open
        healthy_proxy.cut()
        thread.join(timeout=30)
        locker.rollback()
    healthy_proxy.restore()

    # Then the client gets 503 (not 500, not a reset) and nothing of the write is stored
    assert_unavailable_problem(outcome["response"])
    assert outcome["seconds"] < REQUEST_BOUND_SECONDS + 5
    with psycopg.connect(pg.url(rel_db)) as conn:
        assert conn.execute(count_sql, count_args).fetchone()[0] == 0
    # and the server serves again
    assert wait_until_ok(server, "/api/v1/users/me/", token, bound=RECOVERY_BOUND_SECONDS) < RECOVERY_BOUND_SECONDS


def _wait_for_lock_waiter(pg, dbname, outcome, server, timeout: float = 15):
    deadline = time.monotonic() + timeout
    with psycopg.connect(pg.url(dbname), autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", [dbname]
            ).fetchone()[0]
            if waiting:
                return
            time.sleep(0.05)
        sessions = conn.execute(
            "SELECT pid, state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [dbname],
        ).fetchall()
    # What the request did instead, so a failure says where it went
    response = outcome.get("response")
    answered = f"{response.status_code} {response.text[:300]}" if response is not None else "no answer yet"
    raise AssertionError(
        f"the request never blocked on the lock; it got {answered} after {outcome.get('seconds')}s;"
        f" sessions {sessions}; server log tail:\n{server.log()[-3000:]}"
    )
