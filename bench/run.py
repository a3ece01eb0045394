"""Clarity's load and scale benchmark: `make bench` / `make bench-scale` (see README, "Performance").

1. Checks PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/clarity_bench),
   creates the database if missing, migrates, and seeds it once (bench/seed.py).
2. Starts the production server (`python -m clarity.serve`, workers = cores, production
   settings, generated secrets kept in bench/.data/secrets.json).
3. Drives each scenario with wrk (bench/lua/*.lua) from a separate process: a warm-up,
   then --runs measured runs of --duration seconds; reports the median of the runs.
   Server CPU per request comes from /proc/<pid>/stat of the server processes, the
   connection split per worker from /proc/<pid>/fd and /proc/net/tcp mid-run.
4. Writes bench/results/<timestamp>.json and .md (the table with targets and ✓/✗).

`--scale` instead seeds patients with 10^5, 10^6 and 10^7 interactions and measures the
interactions page (first and deep) on each, with the EXPLAIN (ANALYZE, BUFFERS) plan.
"""

import argparse
import base64
import datetime
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DATA = BENCH / ".data"
RESULTS = BENCH / "results"
LUA = BENCH / "lua"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/clarity_bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# name -> (req/s at least, p99 ms at most); every scenario must also have zero errors.
TARGETS = {
    "patient_read": (600, 150),
    "interactions_first": (400, None),
    "interactions_deep": (400, None),
    "interactions_post_100": (150, None),
}
EXPORT_RSS_LIMIT_MB = 100
SCALE_RATIO_LIMIT = 1.5


def log(message):
    print(f"[bench] {message}", flush=True)


# --- environment and database ---------------------------------------------------------
def bench_env(database_url: str) -> dict:
    """Production settings with generated secrets (made once, kept in bench/.data/secrets.json)."""
    DATA.mkdir(exist_ok=True)
    path = DATA / "secrets.json"
    if path.exists():
        generated = json.loads(path.read_text())
    else:
        generated = {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "AUDIT_HMAC_KEY": secrets.token_hex(32),
            "PHI_ENCRYPTION_KEYS": "bench1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "PHI_BLIND_INDEX_KEY": secrets.token_hex(32),
        }
        path.write_text(json.dumps(generated))
        path.chmod(0o600)
    return {
        **os.environ,
        **generated,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "clarity.settings"),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "ACCESS_LOG_LEVEL": "WARNING",  # keep logging off the hot path
        "AUTH_TOKEN_TTL": "86400",
        "CLARITY_ENV_FILE": os.devnull,  # a developer's .env must not leak into the figures
    }


def ensure_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                log(f"creating database {name}")
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        sys.exit(
            f"[bench] PostgreSQL is not reachable at {parts.hostname}:{parts.port or 5432} ({exc.__class__.__name__}); "
            "start it or set DATABASE_URL=postgres://user@host:port/clarity_bench"
        )


def require_wrk() -> None:
    if shutil.which("wrk") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        # A fresh Debian/Ubuntu machine: install it rather than stop (make bench is one command).
        log("wrk is not installed: apt-get install -y wrk")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
    if shutil.which("wrk") is None:
        sys.exit(
            "[bench] wrk is not installed: apt-get update && apt-get install -y wrk  (Debian/Ubuntu; brew install wrk on macOS)"
        )


def vacuum_audit(database_url: str) -> None:
    """Sealing the audit chain updates each event once; where autovacuum is off (as on the
    machines these figures were taken on) the dead versions pile up across runs and slow the
    sealer's scan. Start every scenario from a vacuumed table, as autovacuum would keep it."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute("VACUUM ANALYZE audit_auditevent")


# --- the server under test --------------------------------------------------------------
def _stat_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _listening_inodes(port: int) -> dict[str, str]:
    """inode -> state for TCP sockets whose local port is `port`."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            cols = line.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == port:
                found[cols[9]] = cols[3]
    return found


class Server:
    def __init__(self, env: dict, *, port: int, workers: int):
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = DATA / "server.log"
        self.log_file = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "clarity.serve",
                "--workers",
                str(workers),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        self.workers: list[int] = []
        self._wait_ready(workers)

    def _wait_ready(self, workers: int) -> None:
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(
                    f"[bench] the server exited with {self.proc.returncode}; see {self.log_path}:\n"
                    + self.log_path.read_text()[-3000:]
                )
            self.workers = self._children()
            try:
                if (
                    len(self.workers) == workers
                    and httpx.get(self.url + "/health/ready/", timeout=2).status_code == 200
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        sys.exit(f"[bench] the server did not become ready; see {self.log_path}")

    def _children(self) -> list[int]:
        try:
            pids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except FileNotFoundError:
            return []
        # multiprocessing's resource tracker is a child too; workers run spawn_main.
        return [int(p) for p in pids if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]

    def cpu_ticks(self) -> int:
        return sum(_stat_ticks(pid) for pid in [self.proc.pid, *self.workers])

    def rss_kb(self) -> dict[int, int]:
        return {pid: _rss_kb(pid) for pid in self.workers}

    def connection_split(self) -> list[int]:
        """Established connections held by each worker (kernel's SO_REUSEPORT spread)."""
        sockets = _listening_inodes(self.port)
        split = []
        for pid in self.workers:
            count = 0
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and sockets.get(target[8:-1]) == "01":  # 01 = ESTABLISHED
                    count += 1
            split.append(count)
        return split

    def drain(self, *, idle_ms_per_second: float = 50, timeout: float = 120) -> None:
        """Wait until requests wrk abandoned at its deadline are done (the server is idle), so
        they neither count towards the next measurement nor starve it of pool connections."""
        deadline = time.monotonic() + timeout
        previous = self.cpu_ticks()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            current = self.cpu_ticks()
            if (current - previous) / CLK_TCK * 1000 * 2 < idle_ms_per_second:
                return
            previous = current

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        return self.proc.returncode


# --- load ---------------------------------------------------------------------------
def wrk(
    server: Server, token: str, script: str, args: list[str], *, duration: float, connections: int, threads: int
) -> dict:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA / script),
        server.url,
        "--",
        *args,
    ]
    done = subprocess.run(
        cmd, env={**os.environ, "BENCH_TOKEN": token}, capture_output=True, text=True, timeout=duration + 120
    )
    server.drain()
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :])
    raise RuntimeError(f"wrk gave no summary (exit {done.returncode}): {(done.stdout + done.stderr).strip()[-800:]}")


def measured_run(server, token, script, args, *, duration, connections=32, threads=2) -> dict:
    splits = []

    def sample_split():
        time.sleep(duration / 2)
        splits.append(server.connection_split())

    sampler = threading.Thread(target=sample_split, daemon=True)
    before = server.cpu_ticks()
    sampler.start()
    summary = wrk(server, token, script, args, duration=duration, connections=connections, threads=threads)
    after = server.cpu_ticks()
    sampler.join()
    requests = summary["requests"]
    seconds = summary["duration_us"] / 1e6
    errors = sum(summary["errors"].values())
    return {
        "requests": requests,
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": round(summary["latency_us"]["p50"] / 1000, 2),
        "p99_ms": round(summary["latency_us"]["p99"] / 1000, 2),
        "max_ms": round(summary["latency_us"]["max"] / 1000, 2),
        "errors": errors,
        "error_detail": summary["errors"],
        "cpu_ms_per_request": round((after - before) / CLK_TCK * 1000 / requests, 3) if requests else None,
        "connection_split": splits[0] if splits else None,
    }


def scenario(server, token, name, title, script, args, *, warmup, duration, runs, connections=32, threads=2) -> dict:
    log(f"{name}: warm-up {warmup:g} s, then {runs} × {duration:g} s")
    vacuum_audit(server.env["DATABASE_URL"])
    if warmup:
        wrk(server, token, script, args, duration=warmup, connections=connections, threads=threads)
    results = []
    for index in range(runs):
        result = measured_run(server, token, script, args, duration=duration, connections=connections, threads=threads)
        log(
            f"  run {index + 1}: {result['rps']} req/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
            f"errors {result['errors']}, {result['cpu_ms_per_request']} CPU ms/req, split {result['connection_split']}"
        )
        results.append(result)
    median = {
        key: statistics.median(r[key] for r in results if r[key] is not None)
        if any(r[key] is not None for r in results)
        else 0.0
        for key in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request")
    }
    return {
        "name": name,
        "title": title,
        "runs": results,
        "median": median,
        "errors": sum(r["errors"] for r in results),
    }


# --- helpers in-process (Django) -------------------------------------------------------
def setup_django(env: dict) -> None:
    os.environ.update({k: v for k, v in env.items() if k not in os.environ or os.environ[k] != v})
    sys.path.insert(0, str(ROOT))
    import logging

    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)


def bench_token(server: Server) -> str:
    """A fresh password for the bench clinician, then a bearer token from the API itself."""
    import httpx

    from bench.seed import CLINICIAN
    from clarity.users.models import User

    password = secrets.token_urlsafe(24)
    user = User.objects.get(username=CLINICIAN)
    user.set_password(password)
    user.save(update_fields=["password"])
    response = httpx.post(
        server.url + "/api/v1/auth/token/", json={"username": CLINICIAN, "password": password}, timeout=10
    )
    response.raise_for_status()
    return response.json()["token"]


def interactions_available() -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve("/api/v1/patients/00000000-0000-0000-0000-000000000000/interactions/")
        resolve("/api/v1/patients/00000000-0000-0000-0000-000000000000/export/")
    except Resolver404:
        return False
    return True


def _interaction_pages():
    try:
        from interactions.views import INTERACTION_PAGES

        return INTERACTION_PAGES
    except ImportError:
        from clarity.api.pagination import KeysetPaginator

        return KeysetPaginator(["-occurred_at", "-id"])


def _interactions_of(patient_id):
    try:
        from interactions.selectors import interactions_of

        return interactions_of(patient_id)
    except ImportError:
        from interactions.models import InteractionLog

        return InteractionLog.objects.filter(patient_id=patient_id)


def deep_cursor(patient_id: str, offset: int) -> str:
    """The `cursor` the API would hand out after `offset` rows, computed directly (no paging through)."""
    row = _interactions_of(patient_id).order_by("-occurred_at", "-id").only("id", "occurred_at")[offset - 1]
    return _interaction_pages()._encode(row, False)


def check_page(server: Server, token: str, path: str) -> None:
    import httpx

    response = httpx.get(server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    body = response.json()
    if response.status_code != 200 or len(body.get("results", [])) != 50:
        sys.exit(f"[bench] {path} answered {response.status_code} with {len(body.get('results', []))} results")


def explain_page(patient_id: str, cursor: str | None) -> str:
    from django.db import connection

    from interactions.models import InteractionLog

    pages = _interaction_pages()
    queryset = _interactions_of(patient_id)
    if cursor:
        values, reverse = pages._decode(InteractionLog, cursor)
        queryset = queryset.filter(pages._after(values, reverse))
    queryset = queryset.order_by(*pages._order(False))[:51]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as db:
        db.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in db.fetchall())


def query_ms(patient_id: str, cursor: str | None, *, repeat: int = 7) -> float:
    """Median server-side execution time of the page query (EXPLAIN ANALYZE), free of Python and scheduling noise."""
    times = []
    for _ in range(repeat):
        for line in explain_page(patient_id, cursor).splitlines():
            if line.startswith("Execution Time:"):
                times.append(float(line.split()[2]))
    return statistics.median(times)


def plan_ok(plan: str) -> bool:
    """Index range scans on interactions_patient_recent only (each monthly partition has its own copy), no sort."""
    from django.db import connection

    from clarity.partitions import index_names

    with connection.cursor() as db:
        names = index_names(db, "interactions_patient_recent")
    used = set(re.findall(r"Index Scan(?: Backward)? using (\w+)", plan))
    return bool(used) and used <= names and "Sort" not in plan and "Seq Scan" not in plan


# --- export ---------------------------------------------------------------------------
def export_run(server: Server, token: str, patient_id: str, expected: int) -> dict:
    import httpx

    before = server.rss_kb()
    peak = dict(before)
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            for pid, kb in server.rss_kb().items():
                peak[pid] = max(peak[pid], kb)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    chunks = []
    started = time.perf_counter()
    with httpx.stream(
        "GET",
        f"{server.url}/api/v1/patients/{patient_id}/export/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=600,
    ) as response:
        status = response.status_code
        for chunk in response.iter_bytes():
            chunks.append(chunk)
    seconds = time.perf_counter() - started
    time.sleep(1.0)
    stop.set()
    sampler.join()
    after = server.rss_kb()
    body = b"".join(chunks)
    interactions = len(json.loads(body)["interactions"]) if status == 200 else None
    pid = max(peak, key=lambda p: peak[p] - before[p])  # the worker that served it
    return {
        "status": status,
        "seconds": round(seconds, 2),
        "bytes": len(body),
        "interactions": interactions,
        "complete": interactions == expected,
        "rss_mb": {
            "before": round(before[pid] / 1024, 1),
            "peak": round(peak[pid] / 1024, 1),
            "after": round(after[pid] / 1024, 1),
        },
        "rss_growth_mb": round((peak[pid] - before[pid]) / 1024, 1),
    }


# --- reports ----------------------------------------------------------------------------
def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def _split(runs) -> str:
    return ", ".join("/".join(str(n) for n in r["connection_split"]) for r in runs if r["connection_split"]) or "–"


def markdown(report: dict) -> str:
    meta = report["meta"]
    lines = [
        f"Run {meta['started']} on commit `{meta['commit']}`: {meta['workers']} workers on {meta['cores']} cores, "
        f"wrk {meta['threads']} threads × {meta['connections']} connections, {meta['warmup']:g} s warm-up then "
        f"median of {meta['runs']} × {meta['duration']:g} s; load average before: {meta['loadavg']}.",
        "",
        "| scenario | req/s | p50 ms | p99 ms | errors | server CPU ms/req | connections per worker |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in report["scenarios"]:
        if item.get("skipped"):
            lines.append(f"| {item['title']} | – | – | – | – | – | skipped: {item['skipped']} |")
            continue
        median = item["median"]
        rps_target, p99_target = TARGETS.get(item["name"], (None, None))
        rps = f"{median['rps']:,.0f}" + (
            f" {_mark(median['rps'] >= rps_target)} (≥ {rps_target})" if rps_target else ""
        )
        p99 = f"{median['p99_ms']:.1f}" + (
            f" {_mark(median['p99_ms'] <= p99_target)} (≤ {p99_target})" if p99_target else ""
        )
        errors = f"{item['errors']} {_mark(item['errors'] == 0)}"
        lines.append(
            f"| {item['title']} | {rps} | {median['p50_ms']:.1f} | {p99} | {errors} | {median['cpu_ms_per_request']:.2f} | {_split(item['runs'])} |"
        )
    export = report.get("export")
    if export and not export.get("skipped"):
        lines += [
            "",
            "| export | seconds (median) | size | server RSS before → peak → after (MB) | RSS growth | complete |",
            "|---|---|---|---|---|---|",
        ]
        run = export["runs"][0]
        growth = export["max_rss_growth_mb"]
        lines.append(
            f"| {export['title']} | {export['median_seconds']:.2f} | {run['bytes'] / 1e6:.1f} MB | "
            + "; ".join(
                f"{r['rss_mb']['before']} → {r['rss_mb']['peak']} → {r['rss_mb']['after']}" for r in export["runs"]
            )
            + f" | {growth} MB {_mark(growth < EXPORT_RSS_LIMIT_MB)} (< {EXPORT_RSS_LIMIT_MB}) | "
            + f"{_mark(all(r['complete'] for r in export['runs']))} {run['interactions']:,} interactions |"
        )
    elif export:
        lines += ["", f"Export: skipped ({export['skipped']})."]
    lines += ["", "Errors are non-2xx responses plus socket errors and timeouts, summed over the measured runs."]
    return "\n".join(lines) + "\n"


def scale_markdown(report: dict) -> str:
    meta = report["meta"]
    lines = [
        f"Scale run {meta['started']} on commit `{meta['commit']}`: one client connection (query latency, not "
        f"throughput), {meta['warmup']:g} s warm-up, median of {meta['runs']} × {meta['duration']:g} s per page.",
        "",
        "| interactions of the patient | first page HTTP p50 / p99 ms | deep page (middle) HTTP p50 / p99 ms "
        "| page query in PostgreSQL, first / deep (ms) | plan: index scan, no sort, no seq scan |",
        "|---|---|---|---|---|",
    ]
    for item in report["sizes"]:
        lines.append(
            f"| {item['interactions']:,} | {item['first']['median']['p50_ms']:.2f} / {item['first']['median']['p99_ms']:.2f} "
            f"| {item['deep']['median']['p50_ms']:.2f} / {item['deep']['median']['p99_ms']:.2f} "
            f"| {item['query_ms']['first']:.3f} / {item['query_ms']['deep']:.3f} "
            f"| {_mark(plan_ok(item['plan_first']) and plan_ok(item['plan_deep']))} |"
        )
    lines.append("")
    for which in ("first", "deep"):
        ratio, query_ratio = report["ratio"][which], report["query_ratio"][which]
        lines.append(
            f"- {which} page, slowest/fastest: HTTP p50 {ratio:.2f} {_mark(ratio <= SCALE_RATIO_LIMIT)}, "
            f"query {query_ratio:.2f} {_mark(query_ratio <= SCALE_RATIO_LIMIT)} (≤ {SCALE_RATIO_LIMIT})"
        )
    biggest = report["sizes"][-1]
    lines += [
        "",
        f"EXPLAIN (ANALYZE, BUFFERS) of the first page at {biggest['interactions']:,} interactions (on the"
        " monthly-partitioned log the ordered Append stops after the newest months: older partitions show"
        " `never executed`):",
        "",
        "```",
        biggest["plan_first"],
        "```",
        "",
        "and of the deep page (the cursor's occurred_at prunes every newer partition at plan time):",
        "",
        "```",
        biggest["plan_deep"],
        "```",
    ]
    return "\n".join(lines) + "\n"


def _meta(args, workers) -> dict:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + ("+dirty" if dirty else ""),
        "cores": os.cpu_count(),
        "workers": workers,
        "threads": 2,
        "connections": 32,
        "warmup": args.warmup,
        "duration": args.duration,
        "runs": args.runs,
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": sys.version.split()[0],
    }


def _write(report: dict, text: str, suffix: str = "") -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H%M%SZ")
    (RESULTS / f"{stamp}{suffix}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{stamp}{suffix}.md").write_text(text)
    print("\n" + text)
    log(f"wrote bench/results/{stamp}{suffix}.json and .md")


# --- the two modes ------------------------------------------------------------------------
def run_load(args, server: Server, token: str) -> None:
    from bench.seed import heavy_patient_id, panel_ids

    ids_file = DATA / "panel_ids.txt"
    ids_file.write_text("\n".join(panel_ids()) + "\n")
    common = {"warmup": args.warmup, "duration": args.duration, "runs": args.runs}
    plan = [
        ("patient_read", "GET /patients/{id}/ (random panel patient)", "panel_get.lua", [str(ids_file)]),
        ("patients_list", "GET /patients/?page_size=50", "get.lua", ["/api/v1/patients/?page_size=50"]),
    ]
    have_interactions = interactions_available()
    heavy = heavy_patient_id()
    if have_interactions:
        deep_path = f"/api/v1/patients/{heavy}/interactions/?page_size=50&cursor={deep_cursor(heavy, args.heavy // 2)}"
        check_page(server, token, deep_path)
        plan += [
            (
                "interactions_first",
                "GET /patients/{id}/interactions/?page_size=50 (first page)",
                "panel_get.lua",
                [str(ids_file), "interactions/?page_size=50"],
            ),
            (
                "interactions_deep",
                f"GET interactions, deep page (row {args.heavy // 2:,} of {args.heavy:,})",
                "get.lua",
                [deep_path],
            ),
            ("interactions_post_1", "POST one interaction", "interactions_post.lua", [str(ids_file), "0"]),
            ("interactions_post_100", "POST a batch of 100", "interactions_post.lua", [str(ids_file), "100"]),
            ("interactions_post_1000", "POST a batch of 1,000", "interactions_post.lua", [str(ids_file), "1000"]),
        ]
    only = set(args.only.split(",")) if args.only else None
    report = {"meta": _meta(args, args.workers), "scenarios": []}
    for name, title, script, script_args in plan:
        if only and name not in only:
            continue
        report["scenarios"].append(scenario(server, token, name, title, script, script_args, **common))
    if not have_interactions:
        for name, title in (("interactions_*", "interactions pages and POSTs"),):
            report["scenarios"].append(
                {"name": name, "title": title, "skipped": "no interactions endpoint in this build"}
            )
    if not have_interactions:
        report["export"] = {"skipped": "no export endpoint in this build"}
    elif not only or "export" in only:
        expected = _interactions_of(heavy).count()
        log(f"export of {expected:,} interactions: {args.runs} runs")
        runs = [export_run(server, token, heavy, expected) for _ in range(args.runs)]
        for run in runs:
            log(
                f"  {run['status']} in {run['seconds']} s, {run['bytes']:,} bytes, RSS growth {run['rss_growth_mb']} MB"
            )
        report["export"] = {
            "title": f"GET /patients/{{id}}/export/ ({expected:,} interactions)",
            "runs": runs,
            "median_seconds": statistics.median(r["seconds"] for r in runs),
            "max_rss_growth_mb": max(r["rss_growth_mb"] for r in runs),
        }
    _write(report, markdown(report))


def run_scale(args, server: Server, token: str) -> None:
    from bench.seed import seed_scale_patient

    sizes = [int(float(s)) for s in args.scale_sizes.split(",")]
    report = {"meta": _meta(args, args.workers), "sizes": []}
    for size in sizes:
        patient = seed_scale_patient(size)
        cursor = deep_cursor(patient, size // 2)
        first_path = f"/api/v1/patients/{patient}/interactions/?page_size=50"
        deep_path = f"{first_path}&cursor={cursor}"
        check_page(server, token, deep_path)
        common = {"warmup": args.warmup, "duration": args.duration, "runs": args.runs, "connections": 1, "threads": 1}
        item = {
            "interactions": size,
            "patient": patient,
            "first": scenario(server, token, f"first_{size}", "first page", "get.lua", [first_path], **common),
            "deep": scenario(server, token, f"deep_{size}", "deep page", "get.lua", [deep_path], **common),
            "plan_first": explain_page(patient, None),
            "plan_deep": explain_page(patient, cursor),
            "query_ms": {"first": query_ms(patient, None), "deep": query_ms(patient, cursor)},
        }
        report["sizes"].append(item)
    report["ratio"] = {
        which: max(i[which]["median"]["p50_ms"] for i in report["sizes"])
        / min(i[which]["median"]["p50_ms"] for i in report["sizes"])
        for which in ("first", "deep")
    }
    report["query_ratio"] = {
        which: max(i["query_ms"][which] for i in report["sizes"]) / min(i["query_ms"][which] for i in report["sizes"])
        for which in ("first", "deep")
    }
    _write(report, scale_markdown(report), suffix="-scale")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale",
        action="store_true",
        help="the scale run (10^5..10^7 interactions for one patient) instead of the load run",
    )
    parser.add_argument(
        "--scale-sizes",
        default="1e5,1e6,1e7",
        help="interaction counts for --scale (drop 1e7 to skip its few minutes of seeding)",
    )
    parser.add_argument(
        "--warmup", type=float, default=None, help="warm-up seconds per scenario (default 5; 2 with --scale)"
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds per measured run (default 20; 10 with --scale)"
    )
    parser.add_argument("--runs", type=int, default=3, help="measured runs per scenario; the median is reported")
    parser.add_argument("--only", default="", help="comma-separated scenario names (and/or 'export')")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--panel", type=int, default=2_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument(
        "--heavy", type=int, default=100_000, help="interactions of the one patient used for deep pages and the export"
    )
    args = parser.parse_args(argv)
    args.warmup = args.warmup if args.warmup is not None else (2.0 if args.scale else 5.0)
    args.duration = args.duration if args.duration is not None else (10.0 if args.scale else 20.0)

    require_wrk()
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("[bench] DATABASE_URL must be PostgreSQL")
    ensure_database(database_url)
    env = bench_env(database_url)
    log("migrating")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    setup_django(env)
    from bench.seed import seed_main

    seed_main(patients=args.patients, panel=args.panel, interactions=args.interactions, heavy=args.heavy)
    log(f"starting the production server: {args.workers} workers on port {args.port}")
    server = Server(env, port=args.port, workers=args.workers)
    try:
        token = bench_token(server)
        (run_scale if args.scale else run_load)(args, server, token)
    finally:
        code = server.stop()
        log(f"server stopped (exit {code})")


if __name__ == "__main__":
    main()
