"""Exactly-once ingest under faults: concurrent clients post interaction batches with
Idempotency-Keys and retry on errors and timeouts while the database is cut twice.
Every batch a client saw acknowledged is stored exactly once, none partially, and the
audit chain still verifies.
"""

import datetime
import secrets
import sys
import threading
import time
from collections import Counter

import httpx
import psycopg
import pytest

from clarity.tests.reliability.harness import manage

pytestmark = pytest.mark.postgres_only

CLIENTS = 8
BATCH = 25
SEND_SECONDS = 12.0  # clients start new batches for this long
CUTS = ((2.5, 2.0), (7.0, 2.5))  # (seconds after start, outage length)
GIVE_UP_SECONDS = 60.0  # a batch still unacknowledged this long after the start is a failure
CLIENT_TIMEOUT = 6.0


def _batch(client: int, n: int, twin: str) -> list[dict]:
    occurred = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(minutes=client * 10_000 + n)
    return [
        {"kind": "observation", "payload": {"client": client, "batch": n, "item": i}, "occurred_at": (occurred + datetime.timedelta(seconds=i)).isoformat(), "twin": twin}
        for i in range(BATCH)
    ]  # fmt: skip


def test_batches_acknowledged_under_database_cuts_are_stored_exactly_once(
    server, healthy_proxy, world, pg, rel_db, direct_env
):
    token = world["tokens"]["clinician"]
    patient, twin = world["patients"][2], world["twins"][2]
    prefix = f"xo-{secrets.token_hex(3)}"
    path = f"/api/v1/patients/{patient}/interactions/"
    acked: dict[str, int] = {}
    unacked: list[str] = []
    unexpected: list[tuple[str, int, str]] = []
    outcomes = Counter()
    lock = threading.Lock()
    started = time.monotonic()

    def client(index: int):
        with httpx.Client(
            base_url=server.url, timeout=CLIENT_TIMEOUT, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            n = 0
            while time.monotonic() - started < SEND_SECONDS:
                key = f"{prefix}-c{index}-b{n}"
                body = _batch(index, n, twin)
                attempts = 0
                while True:
                    if time.monotonic() - started > GIVE_UP_SECONDS:
                        with lock:
                            unacked.append(key)
                        break
                    attempts += 1
                    try:
                        response = http.post(path, json=body, headers={"Idempotency-Key": key})
                    except httpx.HTTPError as exc:
                        with lock:
                            outcomes[type(exc).__name__] += 1
                        time.sleep(0.2)
                        continue
                    with lock:
                        outcomes[response.status_code] += 1
                    if response.status_code == 201:
                        assert len(response.json()) == BATCH
                        with lock:
                            acked[key] = attempts
                        break
                    if response.status_code == 503:
                        time.sleep(0.2)
                        continue
                    with lock:
                        unexpected.append((key, response.status_code, response.text[:300]))
                    break
                n += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for at, length in CUTS:
        time.sleep(max(0.0, at - (time.monotonic() - started)))
        healthy_proxy.cut()
        time.sleep(length)
        healthy_proxy.restore()
    for thread in threads:
        thread.join(timeout=GIVE_UP_SECONDS + 10)

    # Then nothing unexpected happened, every batch was eventually acknowledged,
    assert not unexpected, unexpected[:5]
    assert not unacked, unacked[:5]
    assert acked, "no batch was acknowledged"
    # the cuts really hit requests (the test exercised the faults),
    assert sum(count for outcome, count in outcomes.items() if outcome != 201) > 0, outcomes
    assert 500 not in outcomes
    # each acknowledged batch is in the database exactly once and nothing else is
    with psycopg.connect(pg.url(rel_db)) as conn:
        rows = conn.execute(
            "SELECT split_part(idempotency_key, ':', 1), count(*), count(DISTINCT idempotency_key)"
            " FROM interactions_interactionlog WHERE idempotency_key LIKE %s GROUP BY 1",
            [prefix + "-%"],
        ).fetchall()
        records = conn.execute(
            "SELECT count(*) FROM interactions_idempotencyrecord WHERE key LIKE %s", [prefix + "-%"]
        ).fetchone()[0]
    stored = {key: (count, distinct) for key, count, distinct in rows}
    assert set(stored) == set(acked)
    assert all(count == distinct == BATCH for count, distinct in stored.values()), {
        k: v for k, v in stored.items() if v != (BATCH, BATCH)
    }
    assert records == len(acked)
    # and the audit chain verifies
    result = manage(direct_env, "verify_audit")
    assert "audit chain intact" in result.stdout
    retried = sum(1 for attempts in acked.values() if attempts > 1)
    sys.stdout.write(
        f"\nexactly-once: {len(acked)} batches x {BATCH} acknowledged, {retried} after retries; outcomes {dict(outcomes)}\n"
    )
