"""Soak: `make soak` (or `python bench/soak.py --seconds 60 --clients 64`).

Creates a scratch PostgreSQL database (`clarity_rel_<random>`, dropped afterwards) on the
server in DATABASE_URL, seeds users, tokens and patients, starts the production server
(`python -m clarity.serve`, 2 workers), and runs CLIENTS concurrent keep-alive clients
with a mixed workload for SECONDS: patient reads, patient and interaction lists, twin
reads, single interaction writes and 20-item batch writes with Idempotency-Keys.

Prints requests served, errors (anything but 2xx, or a transport error), p50/p99 latency
and the server's RSS (parent + workers) after a warm-up and at the end. Exits 1 if there
was any error or RSS grew by 10 % or more.
"""

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from clarity.tests.reliability.harness import PgServer, ServerProcess, production_env, scratch_database, seed_world  # noqa: E402

BATCH = 20


def workload(world):
    patients, twins = world["patients"], world["twins"]
    run = secrets.token_hex(3)
    counter = iter(range(10**9))

    def now_iso():
        return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())

    def pick():
        i = random.randrange(len(patients))
        patient, twin = patients[i], twins[i]
        roll = random.random()
        if roll < 0.30:
            return "read", "GET", f"/api/v1/patients/{patient}/", None, {}
        if roll < 0.50:
            return "interactions", "GET", f"/api/v1/patients/{patient}/interactions/?page_size=50", None, {}
        if roll < 0.60:
            return "patients", "GET", "/api/v1/patients/?page_size=20", None, {}
        if roll < 0.70:
            return "twin", "GET", f"/api/v1/twins/{twin}/", None, {}
        if roll < 0.90:
            body = {
                "kind": "observation",
                "payload": {"steps": random.randrange(20000)},
                "occurred_at": now_iso(),
                "twin": twin,
            }
            return "write", "POST", f"/api/v1/patients/{patient}/interactions/", body, {}
        body = [
            {
                "kind": "assessment",
                "payload": {"instrument": "PHQ-9", "score": random.randrange(28)},
                "occurred_at": now_iso(),
            }
            for _ in range(BATCH)
        ]
        return (
            "batch",
            "POST",
            f"/api/v1/patients/{patient}/interactions/",
            body,
            {"Idempotency-Key": f"soak-{run}-{next(counter)}"},
        )

    return pick


async def client(url, token, pick, deadline, latencies, kinds, errors):
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        while time.monotonic() < deadline:
            kind, method, path, body, headers = pick()
            started = time.perf_counter()
            try:
                response = await http.request(method, path, json=body, headers=headers)
                ok = 200 <= response.status_code < 300
                outcome = response.status_code
            except httpx.HTTPError as exc:
                ok, outcome = False, type(exc).__name__
            latencies.append(time.perf_counter() - started)
            kinds[kind] += 1
            if not ok:
                errors[(kind, outcome)] += 1


async def drive(url, token, pick, seconds, clients):
    latencies, kinds, errors = [], Counter(), Counter()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(client(url, token, pick, deadline, latencies, kinds, errors) for _ in range(clients)))
    return latencies, kinds, errors


def percentile(values, q):
    return (
        statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else (values[0] if values else 0.0)
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=10, help="seconds of load before the start RSS is taken")
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clarity")
    )
    args = parser.parse_args(argv)
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("the soak runs on PostgreSQL: set DATABASE_URL=postgres://...")

    pg = PgServer.from_url(args.database_url)
    env = production_env(pg.url("postgres"), ACCESS_LOG_LEVEL="WARNING")
    with scratch_database(pg, env) as name:
        env = {**env, "DATABASE_URL": pg.url(name)}
        world = seed_world(env, patients=args.patients)
        server = ServerProcess(env, workers=args.workers, graceful_timeout=15).start()
        try:
            token = world["tokens"]["clinician"]
            pick = workload(world)
            asyncio.run(drive(server.url, token, pick, args.warmup, args.clients))
            rss_start = server.rss_bytes()
            started = time.monotonic()
            latencies, kinds, errors = asyncio.run(drive(server.url, token, pick, args.seconds, args.clients))
            elapsed = time.monotonic() - started
            rss_end = server.rss_bytes()
        finally:
            server.close()

    served = len(latencies)
    growth = (rss_end - rss_start) / rss_start * 100
    error_count = sum(errors.values())
    lines = [
        f"soak: {args.clients} clients, {args.workers} workers, {elapsed:.0f} s on PostgreSQL (after {args.warmup:.0f} s warm-up)",
        f"requests served: {served} ({served / elapsed:.0f} req/s)  mix: {dict(kinds)}",
        f"errors: {error_count}" + (f"  {dict(errors)}" if errors else ""),
        f"latency p50: {percentile(latencies, 0.50) * 1000:.1f} ms  p99: {percentile(latencies, 0.99) * 1000:.1f} ms",
        f"server RSS start: {rss_start / 2**20:.1f} MiB  end: {rss_end / 2**20:.1f} MiB  growth: {growth:+.1f} %",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 1 if error_count or growth >= 10 else 0


if __name__ == "__main__":
    sys.exit(main())
