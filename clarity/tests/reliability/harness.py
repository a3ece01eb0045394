"""Run the production server (`python -m clarity.serve`) against a scratch PostgreSQL database.

Used by the reliability tests (and bench/soak.py): `scratch_database()` creates and
migrates `clarity_rel_<random>` and drops it afterwards; `ServerProcess` starts the real
server command with production settings in its own process group and stops it with
SIGTERM (SIGKILL to the group if it does not go); `seed_world()` writes users, tokens
and patients through the ORM in a subprocess with the server's environment.
"""

import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[3]


class PgServer:
    """Where PostgreSQL is, from a DATABASE_URL-style settings dict."""

    def __init__(self, host: str, port: int, user: str, password: str, maintenance_db: str):
        self.host, self.port, self.user, self.password, self.maintenance_db = host, port, user, password, maintenance_db

    @classmethod
    def from_settings(cls, settings_dict: dict) -> "PgServer":
        return cls(
            settings_dict.get("HOST") or "127.0.0.1",
            int(settings_dict.get("PORT") or 5432),
            settings_dict.get("USER") or "postgres",
            settings_dict.get("PASSWORD") or "",
            "postgres",
        )

    @classmethod
    def from_url(cls, url: str) -> "PgServer":
        info = psycopg.conninfo.conninfo_to_dict(url)
        return cls(
            info.get("host", "127.0.0.1"),
            int(info.get("port", 5432)),
            info.get("user", "postgres"),
            info.get("password", ""),
            "postgres",
        )

    def url(self, dbname: str, *, port: int | None = None) -> str:
        auth = quote(self.user) + (":" + quote(self.password) if self.password else "")
        return f"postgres://{auth}@{self.host}:{port or self.port}/{dbname}"

    def admin_connection(self):
        return psycopg.connect(self.url(self.maintenance_db), autocommit=True, connect_timeout=5)


def production_env(database_url: str, **overrides) -> dict:
    """The environment of a production process: no pytest marker, fresh secrets, plain HTTP on loopback."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "PYTEST_VERSION" and not key.startswith(("DJANGO_", "DATABASE_", "AUDIT_", "PHI_", "PYTEST_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "clarity.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "AUDIT_HMAC_KEY": secrets.token_hex(32),
            "PHI_ENCRYPTION_KEYS": "rel1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "PHI_BLIND_INDEX_KEY": secrets.token_hex(32),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": database_url,
            "CLARITY_ENV_FILE": "/nonexistent",  # a developer's .env must not leak in
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def manage(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@contextlib.contextmanager
def scratch_database(pg: PgServer, env: dict):
    """A freshly migrated database `clarity_rel_<random>`, dropped on exit. Yields its name."""
    name = f"clarity_rel_{secrets.token_hex(4)}"
    with pg.admin_connection() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        manage({**env, "DATABASE_URL": pg.url(name)}, "migrate", "--noinput", "-v", "0")
        yield name
    finally:
        with pg.admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed_world(env: dict, patients: int = 3) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "clarity.tests.reliability.world", str(patients)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"seeding failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`python -m clarity.serve` in its own process group, logging to a temporary file."""

    def __init__(self, env: dict, *, workers: int = 1, graceful_timeout: int = 10, port: int | None = None):
        self.env = env
        self.workers = workers
        self.graceful_timeout = graceful_timeout
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="clarity-serve-", suffix=".log", delete=False)

    def start(self, ready_timeout: float = 60) -> "ServerProcess":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clarity.serve", "--workers", str(self.workers), "--host", "127.0.0.1",
             "--port", str(self.port), "--graceful-timeout", str(self.graceful_timeout), "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health/ready/", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"server not ready within {ready_timeout}s:\n{self.log()[-3000:]}")

    def terminate(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        self.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def worker_pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children]

    def rss_bytes(self) -> int:
        """Resident memory of the parent and every worker."""
        total = 0
        for pid in [self.proc.pid, *self.worker_pids()]:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        return total

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def close(self) -> None:
        self.stop()
        self._log.close()
        with contextlib.suppress(OSError):
            os.unlink(self._log.name)
