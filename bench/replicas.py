"""`python -m bench.replicas` (part of `make bench`): primary transactions per read, no replica vs one.

Builds a private primary and streaming replica (clarity/tests/replicas/cluster.py: initdb,
pg_basebackup -R, temporary folder, free ports), migrates and seeds the primary, then runs
the production server twice — without and with DATABASE_REPLICA_URLS — and sends the same
patient reads from 8 concurrent clients. Transactions are counted from pg_stat_database
(xact_commit) on each server after the app's connections have closed (so every backend has
flushed its statistics). A replica on the same machine says nothing about speed; this shows
where the reads' work goes.
"""

import argparse
import concurrent.futures
import time

import httpx

from clarity.tests.reliability.harness import ServerProcess, manage, production_env, seed_world
from clarity.tests.replicas.cluster import PrimaryAndReplica

DB = "clarity"


def commits(server) -> int:
    with server.connect(DB) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute("SELECT xact_commit, tup_fetched FROM pg_stat_database WHERE datname = %s", [DB]).fetchone()


def run(env, cluster, world, reads: int, replica: bool) -> dict:
    overrides = {"DATABASE_REPLICA_URLS": cluster.replica.url(DB)} if replica else {}
    cluster.wait_caught_up()
    time.sleep(1)
    before = (commits(cluster.primary), commits(cluster.replica))
    server = ServerProcess({**env, **overrides, "ACCESS_LOG_LEVEL": "WARNING"}, workers=2).start()
    headers = {"Authorization": f"Bearer {world['tokens']['clinician']}"}
    paths = [f"/api/v1/patients/{pid}/" for pid in world["patients"]]
    statuses = []

    def client(n):
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            for i in range(reads // 8):
                statuses.append(http.get(paths[(n + i) % len(paths)]).status_code)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(client, range(8)))
    elapsed = time.monotonic() - started
    server.stop()
    time.sleep(1.5)  # exiting backends flush their statistics
    after = (commits(cluster.primary), commits(cluster.replica))
    done = len(statuses)
    return {
        "replica": replica,
        "reads": done,
        "errors": sum(1 for s in statuses if s != 200),
        "reads_per_s": round(done / elapsed, 1),
        "primary_tx_per_read": round((after[0][0] - before[0][0]) / done, 2),
        "replica_tx_per_read": round((after[1][0] - before[1][0]) / done, 2),
        "primary_rows_per_read": round((after[0][1] - before[0][1]) / done, 1),
        "replica_rows_per_read": round((after[1][1] - before[1][1]) / done, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=2000)
    args = parser.parse_args()
    cluster = PrimaryAndReplica().start()
    try:
        with cluster.primary.connect() as conn:
            conn.execute(f"CREATE DATABASE {DB}")
        env = production_env(cluster.primary.url(DB))
        manage(env, "migrate", "--noinput", "-v", "0")
        world = seed_world(env, patients=20)
        rows = [run(env, cluster, world, args.reads, replica) for replica in (False, True)]
    finally:
        cluster.close()
    print(
        "| replicas | reads | errors | reads/s | primary transactions per read | replica transactions per read"
        " | primary rows fetched per read | replica rows fetched per read |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {1 if row['replica'] else 0} | {row['reads']} | {row['errors']} | {row['reads_per_s']} "
            f"| {row['primary_tx_per_read']} | {row['replica_tx_per_read']} "
            f"| {row['primary_rows_per_read']} | {row['replica_rows_per_read']} |"
        )


if __name__ == "__main__":
    main()
