"""Staff-review list latency at bench scale (README "Staff review"; `make bench-admin`).

Seeds (once) 10,000 demo patients (`seed_demo`) and 10^6 audit events into a PostgreSQL
database, starts the production server (`python -m clarity.serve`), signs a staff user in
over real HTTP and prints the median of 5 timed requests (after one warm-up) for:
the patients changelist, a patients search, the audit list (default view), the audit list
filtered by one patient, and its page 50. Exit status 1 if any median is >= 300 ms.

The audit events are inserted already SEALED, with valid chain links computed by the
chain's own hash function (clarity/audit/chain.py) and the chain head moved to the last
one: 10^6 unsealed rows would make every request's after-commit sealer work through
the backlog, which is not what a running system looks like.

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/clarity_bench_admin) is created
if missing and keeps its data between runs. The keys are fixed bench values (synthetic
data only) so the seeded chain and PHI stay readable across runs.
"""

import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import time

import httpx
import psycopg

from clarity.tests.reliability.harness import PgServer, ServerProcess, manage, production_env

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/clarity_bench_admin"
PATIENTS = 10_000
AUDIT_EVENTS = 1_000_000
STAFF = "bench-reviewer"
STAFF_PASSWORD = "bench-reviewer-password-not-secret"  # noqa: S105 - a bench database only
BUDGET_MS = 300
BENCH_KEYS = {
    "DJANGO_SECRET_KEY": "bench-admin-lists-secret-key-not-for-production-0123456789abcdef",
    "AUDIT_HMAC_KEY": "b" * 64,
    "PHI_ENCRYPTION_KEYS": "bench1:YmVuY2gtcGhpLWtleS1ub3QtZm9yLXByb2R1Y3Rpb24=",
    "PHI_BLIND_INDEX_KEY": "c" * 64,
}


def _log(message):
    print(f"[bench-admin] {message}", flush=True)


def ensure_database(url: str) -> None:
    pg = PgServer.from_url(url)
    name = url.rsplit("/", 1)[1].split("?")[0]
    with pg.admin_connection() as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def seed_audit(target: int) -> None:
    """Top the audit table up to `target` sealed events (runs inside Django, see main())."""
    import django

    django.setup()
    from django.db import connection, transaction

    from clarity import partitions
    from clarity.audit.chain import _head, hash_fields, seal_pending
    from clarity.users.models import User
    from patients.models import Patient

    if not User.objects.filter(username=STAFF).exists():
        User.objects.create_superuser(username=STAFF, email=f"{STAFF}@bench.invalid", password=STAFF_PASSWORD)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        have = cursor.fetchone()[0]
    missing = target - have
    if missing <= 0:
        _log(f"reusing {have:,} audit events")
        return
    started = time.monotonic()
    seal_pending(max_rounds=10**6)  # seed_demo's own events first: the chain continues from them
    patient_ids = [str(pk) for pk in Patient.objects.values_list("id", flat=True)]
    actors = list(User.objects.filter(role="clinician").values_list("id", "username"))
    actions = ("read", "read", "read", "list", "list", "update", "create", "export")
    kinds = ("patient", "interaction", "twin")
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    first_at = now - datetime.timedelta(days=180)
    step = datetime.timedelta(days=180) / missing
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE audit_auditchainhead IN EXCLUSIVE MODE")
        seq, prev = _head()
        cursor.execute("SELECT coalesce(max(id), 0) FROM audit_auditevent")
        next_id = cursor.fetchone()[0] + 1
        partitions_made = []
        if partitions.is_partitioned(cursor, "audit_auditevent"):
            partitions_made = partitions.ensure_months(
                cursor, "audit_auditevent", "occurred_at", first_at.date(), now.date()
            )
        _log(f"computing {missing:,} chained events (partitions added: {len(partitions_made)})")
        # Bench only: skip the append-only / claim triggers for the bulk load; the rows
        # carry valid links by construction and the head is moved to the last one below.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL statement_timeout = 0")  # the app's per-request cap; a bulk load is not one
        cursor.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
        columns = ("id", "occurred_at", "actor_id", "actor_username", "actor_role", "action", "resource_type",
                   "resource_id", "patient_id", "ip", "user_agent", "request_id", "outcome", "break_glass",
                   "chain_seq", "prev_hash", "hash")  # fmt: skip
        raw = cursor.cursor
        with raw.copy(f"COPY audit_auditevent ({', '.join(columns)}) FROM STDIN") as copy:
            for n in range(missing):
                actor_id, username = actors[n % len(actors)]
                patient = patient_ids[(n * 7919) % len(patient_ids)]
                fields = {
                    "id": next_id + n,
                    "occurred_at": (first_at + step * n).isoformat(timespec="microseconds"),
                    "actor_id": str(actor_id),
                    "actor_username": username,
                    "actor_role": "clinician",
                    "action": actions[n % len(actions)],
                    "resource_type": kinds[n % len(kinds)],
                    "resource_id": patient,
                    "patient_id": patient,
                    "ip": f"10.0.{(n >> 8) & 255}.{n & 255}",
                    "user_agent": "bench",
                    "request_id": f"{n:032x}",
                    "outcome": "success",
                    "break_glass": False,
                }
                seq += 1
                fields["chain_seq"] = seq
                digest = hash_fields(prev, fields)
                copy.write_row([fields[name] for name in columns[:-2]] + [prev, digest])
                prev = digest
        cursor.execute(
            "UPDATE audit_auditchainhead SET seq = %s, hash = %s, round_first = %s, round_xid = NULL, sealed_at = now() WHERE id = 1",
            [seq, prev, seq],
        )
        cursor.execute("SELECT setval(pg_get_serial_sequence('audit_auditevent', 'id'), %s)", [next_id + missing - 1])
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("VACUUM ANALYZE audit_auditevent")
        cursor.execute("VACUUM ANALYZE patients_patient")
    _log(f"{missing:,} sealed audit events in {time.monotonic() - started:.0f} s")


def login(client: httpx.Client) -> None:
    """Sign the staff user in. The cookies are Secure (production settings) and this is plain
    HTTP on loopback, so they are carried by hand instead of by httpx's cookie jar."""

    def keep(response):
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            client.headers["cookie"] = "; ".join(
                [c for c in client.headers.get("cookie", "").split("; ") if c and not c.startswith(name + "=")]
                + [f"{name}={rest.split(';', 1)[0]}"]
            )

    page = client.get("/admin/login/")
    keep(page)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    response = client.post(
        "/admin/login/?next=/admin/",
        data={"username": STAFF, "password": STAFF_PASSWORD, "csrfmiddlewaretoken": token, "next": "/admin/"},
        headers={"Referer": f"{client.base_url}/admin/login/"},
    )
    if response.status_code != 302:
        raise SystemExit(f"staff login failed: {response.status_code}")
    keep(response)


def timed(client: httpx.Client, path: str, runs: int = 5) -> float:
    client.get(path)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}")
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=PATIENTS)
    parser.add_argument("--audit-events", type=int, default=AUDIT_EVENTS)
    parser.add_argument("--seed-audit", type=int, help=argparse.SUPPRESS)  # the in-Django step
    args = parser.parse_args()
    if args.seed_audit is not None:
        seed_audit(args.seed_audit)
        return 0
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        raise SystemExit("bench-admin needs a PostgreSQL DATABASE_URL")
    env = production_env(url, **BENCH_KEYS)
    ensure_database(url)
    manage(env, "migrate", "--noinput", "-v", "0", timeout=600)
    manage(env, "collectstatic", "--noinput", "-v", "0")  # the admin pages' hashed static names
    _log(f"seeding {args.patients:,} patients (existing ones are kept)")
    manage(env, "seed_demo", "--patients", str(args.patients), timeout=3600)
    subprocess.run([sys.executable, "-m", "bench.admin_lists", "--seed-audit", str(args.audit_events)],
                   env=env, check=True, timeout=3600)  # fmt: skip
    with psycopg.connect(url) as conn:
        patient_id = conn.execute(
            "SELECT patient_id FROM audit_auditevent WHERE patient_id IS NOT NULL LIMIT 1"
        ).fetchone()[0]
    server = ServerProcess(env, workers=1).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            login(client)
            rows = [
                ("patients changelist", "/admin/patients/patient/"),
                ("patients search (family name)", "/admin/patients/patient/?q=Garcia"),
                ("audit list, default view", "/admin/audit/auditevent/"),
                ("audit list, one patient", f"/admin/audit/auditevent/?patient_id={patient_id}&own_lists=shown"),
                ("audit list, page 50", "/admin/audit/auditevent/?p=50"),
            ]
            results = [(label, timed(client, path)) for label, path in rows]
    finally:
        server.stop()
    print(f"\nStaff review lists, {args.patients:,} patients / {args.audit_events:,} audit events, median of 5 (ms):")
    for label, ms in results:
        print(f"  {label:<32} {ms:8.1f}")
    slow = [label for label, ms in results if ms >= BUDGET_MS]
    if slow:
        print(f"over the {BUDGET_MS} ms budget: {', '.join(slow)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
