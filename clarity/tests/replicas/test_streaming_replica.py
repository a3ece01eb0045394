"""Read replicas against a real streaming replica (clarity/replicas.py).

A private primary and hot standby (clarity/tests/replicas/cluster.py) each log every
statement, so the tests count which server answered: reads on the replica, writes and
audit rows on the primary. The production server runs with DATABASE_URL = primary and
DATABASE_REPLICA_URLS = replica, 2 workers, over real HTTP.
"""

import concurrent.futures
import os
import threading
import time

import httpx
import pytest

from clarity.tests.reliability.harness import ServerProcess, manage, production_env, seed_world
from clarity.tests.replicas.cluster import PrimaryAndReplica, binaries_available

pytestmark = [
    pytest.mark.postgres_only,
    # CI (CLARITY_REQUIRE_POSTGRES) must have the server binaries: there a missing one fails.
    pytest.mark.skipif(
        not binaries_available() and not os.environ.get("CLARITY_REQUIRE_POSTGRES"),
        reason="PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) not installed",
    ),
]

DB = "clarity"


@pytest.fixture(scope="module")
def cluster():
    pair = PrimaryAndReplica().start()
    try:
        with pair.primary.connect() as conn:
            conn.execute(f"CREATE DATABASE {DB}")
        yield pair
    finally:
        pair.close()


@pytest.fixture(scope="module")
def env(cluster):
    base = production_env(cluster.primary.url(DB))
    manage(base, "migrate", "--noinput", "-v", "0")
    return base


@pytest.fixture(scope="module")
def world(env, cluster):
    data = seed_world(env, patients=3)
    cluster.wait_caught_up()
    return data


def replica_env(env, cluster, **overrides):
    return {
        **env,
        "DATABASE_REPLICA_URLS": cluster.replica.url(DB),
        "REPLICA_PIN_SECONDS": "3",
        "REPLICA_MAX_LAG_SECONDS": "60",
        "REPLICA_CHECK_SECONDS": "0.5",
        **{key: str(value) for key, value in overrides.items()},
    }


@pytest.fixture(scope="module")
def server(env, cluster, world):
    process = ServerProcess(replica_env(env, cluster), workers=2).start()
    yield process
    process.stop()


def auth(world, role="clinician"):
    return {"Authorization": f"Bearer {world['tokens'][role]}"}


def touching(statements, table):
    return [s for s in statements if table in s]


def test_reads_are_served_by_the_replica_and_audit_rows_land_on_the_primary(cluster, server, world):
    patient = world["patients"][0]
    primary_at, replica_at = cluster.primary.log_size(), cluster.replica.log_size()
    with httpx.Client(base_url=server.url, headers=auth(world), timeout=10) as client:
        for _ in range(20):
            assert client.get(f"/api/v1/patients/{patient}/").status_code == 200
        assert client.get("/api/v1/patients/").status_code == 200
    time.sleep(0.5)
    on_primary = cluster.primary.statements_since(primary_at)
    on_replica = cluster.replica.statements_since(replica_at)
    # Every token lookup and patient read ran on the replica ...
    assert len(touching(on_replica, "users_apitoken")) >= 21
    assert len(touching(on_replica, "patients_patient")) >= 21
    # ... none on the primary, which only took the audit inserts (and their sealing).
    assert touching(on_primary, "users_apitoken") == []
    assert touching(on_primary, "patients_patient") == []
    assert len(touching(touching(on_primary, "INSERT INTO"), "audit_auditevent")) >= 21
    assert touching(on_replica, "INSERT INTO") == []
    cluster.wait_caught_up()
    with cluster.primary.connect(DB) as conn:
        reads = conn.execute(
            "SELECT count(*) FROM audit_auditevent WHERE action = 'read' AND resource_id = %s", [patient]
        ).fetchone()[0]
    assert reads >= 20


def test_read_your_writes_while_the_replica_is_behind(cluster, server, world):
    patient = world["patients"][1]
    headers = auth(world)
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as writer, \
            httpx.Client(base_url=server.url, headers=headers, timeout=10) as other:  # fmt: skip
        before = writer.get(f"/api/v1/patients/{patient}/")
        assert before.status_code == 200
        old_etag = before.headers["ETag"]
        with cluster.replica.connect() as replica:
            replica.execute("SELECT pg_wal_replay_pause()")
            try:
                updated = writer.patch(
                    f"/api/v1/patients/{patient}/", json={"given_name": "Renamed"}, headers={"If-Match": old_etag}
                )
                assert updated.status_code == 200, updated.text
                new_etag = updated.headers["ETag"]
                assert new_etag != old_etag
                assert "clarity_primary" in writer.cookies
                # The writer reads its write from the primary, whichever worker answers.
                for _ in range(10):
                    again = writer.get(f"/api/v1/patients/{patient}/")
                    assert again.status_code == 200
                    assert again.headers["ETag"] == new_etag
                    assert again.json()["given_name"] == "Renamed"
                # Another caller is served by the (paused, so stale) replica: the pin is
                # the caller's, not the process's.
                stale = other.get(f"/api/v1/patients/{patient}/")
                assert stale.headers["ETag"] == old_etag
                # A stale ETag never wins: If-Match is checked on the primary.
                refused = other.patch(
                    f"/api/v1/patients/{patient}/", json={"given_name": "Lost"}, headers={"If-Match": old_etag}
                )
                assert refused.status_code == 412
                # A forged pin is ignored.
                forged = httpx.get(
                    f"{server.url}/api/v1/patients/{patient}/", headers={**headers, "Cookie": "clarity_primary=1:x:y"}
                )
                assert forged.headers["ETag"] == old_etag
                # The pin lapses after REPLICA_PIN_SECONDS: back to the replica.
                time.sleep(3.5)
                assert writer.get(f"/api/v1/patients/{patient}/").headers["ETag"] == old_etag
            finally:
                replica.execute("SELECT pg_wal_replay_resume()")
    cluster.wait_caught_up()


def test_a_lagging_replica_is_skipped_and_reported(cluster, env, world):
    patient = world["patients"][2]
    process = ServerProcess(replica_env(env, cluster, REPLICA_MAX_LAG_SECONDS=1), workers=1).start()
    try:
        with httpx.Client(base_url=process.url, headers=auth(world), timeout=10) as client, \
                cluster.replica.connect() as replica:  # fmt: skip
            ready = client.get("/health/ready/").json()
            assert ready["replicas"] == {"replica_1": {"status": "ok", "lag_seconds": 0.0}}
            old_etag = client.get(f"/api/v1/patients/{patient}/").headers["ETag"]
            replica.execute("SELECT pg_wal_replay_pause()")
            try:
                changed = client.patch(
                    f"/api/v1/patients/{patient}/", json={"given_name": "Lagged"}, headers={"If-Match": old_etag}
                )
                assert changed.status_code == 200
                time.sleep(2.5)
                report = client.get("/health/ready/")
                assert report.status_code == 200
                assert report.json()["replicas"]["replica_1"]["status"] == "lagging"
                # A caller without the pin now reads from the primary: the replica is too far behind.
                fresh = httpx.get(f"{process.url}/api/v1/patients/{patient}/", headers=auth(world), timeout=10)
                assert fresh.headers["ETag"] == changed.headers["ETag"]
            finally:
                replica.execute("SELECT pg_wal_replay_resume()")
    finally:
        process.stop()
    cluster.wait_caught_up()


def test_stopping_the_replica_under_load_gives_no_5xx(cluster, server, world):
    # Runs last in this module: it stops the replica for good.
    statuses: list[int] = []
    errors: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def reader(n):
        with httpx.Client(base_url=server.url, headers=auth(world), timeout=20) as client:
            i = 0
            while not stop.is_set():
                path = f"/api/v1/patients/{world['patients'][i % 3]}/" if i % 4 else "/api/v1/patients/"
                i += 1
                try:
                    code = client.get(path).status_code
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(type(exc).__name__)
                    continue
                with lock:
                    statuses.append(code)

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(reader, n) for n in range(6)]

        def wait_for(count, timeout=60):
            deadline = time.monotonic() + timeout
            while len(statuses) < count and time.monotonic() < deadline and not errors:
                time.sleep(0.1)

        wait_for(20)  # load is running (a busy machine may take a while)
        before = len(statuses)
        cluster.replica.stop("immediate")
        wait_for(before + 40)
        stop.set()
        for future in futures:
            future.result()
    assert errors == []
    assert before > 0 and len(statuses) > before + 10
    assert set(statuses) == {200}, sorted(set(statuses))
    report = httpx.get(f"{server.url}/health/ready/", timeout=10)
    assert report.status_code == 200
    assert report.json()["replicas"] == {"replica_1": {"status": "unreachable"}}
