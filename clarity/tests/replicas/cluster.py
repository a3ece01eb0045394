"""A private PostgreSQL primary and streaming replica in a temporary folder.

The replica tests need a real standby: `initdb` a primary (as the `postgres` OS user when
run as root: PostgreSQL refuses to run as root), `pg_basebackup -R` a replica from it,
each on a free port with its unix socket inside the folder. The machine's own cluster and
its pg_hba.conf are never touched. Every statement each server runs is logged
(`log_statement = all`) so a test can count which server answered which query.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from clarity.tests.reliability.harness import free_port


def _pg_bin() -> Path:
    # PG_BIN, else Debian's newest server install (/usr/lib/postgresql/<major>/bin).
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()


def binaries_available() -> bool:
    return all((PG_BIN / name).exists() for name in ("initdb", "pg_ctl", "pg_basebackup"))


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=120, **kwargs)


class Server:
    def __init__(self, root: Path, name: str):
        self.data = root / name
        self.port = free_port()
        self.socket_dir = root
        self.log = root / f"{name}.log"

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs):
        return psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=5, **kwargs)

    def configure(self) -> None:
        with open(self.data / "postgresql.auto.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "log_statement = 'all'\nlog_line_prefix = '%m [%p] '\n"
                "fsync = off\nshared_buffers = '32MB'\nmax_connections = 60\n"
            )

    def start(self) -> None:
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else [])
            + [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"],
            capture_output=True, timeout=120,
        )  # fmt: skip

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def statements_since(self, offset: int) -> list[str]:
        """The statements this server logged after byte `offset` of its log."""
        with open(self.log, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
        marks = ("LOG:  statement: ", "LOG:  execute ")
        return [line for line in text.splitlines() if any(mark in line for mark in marks)]


class PrimaryAndReplica:
    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="clarity-replica-"))
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.root, postgres.pw_uid, postgres.pw_gid)
        os.chmod(self.root, 0o700)
        self.primary = Server(self.root, "primary")
        self.replica = Server(self.root, "replica")

    def start(self) -> "PrimaryAndReplica":
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.primary.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        self.primary.configure()
        self.primary.start()
        _as_postgres([
            str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
            "-D", str(self.replica.data), "-R", "-X", "stream", "--no-sync",
        ])  # fmt: skip
        self.replica.configure()
        self.replica.start()
        return self

    def wait_caught_up(self, timeout: float = 30) -> None:
        with self.primary.connect() as primary:
            target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with self.replica.connect() as replica:
            while time.monotonic() < deadline:
                caught_up = replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0]
                if caught_up:
                    return
                time.sleep(0.1)
        raise RuntimeError("replica did not catch up")

    def close(self) -> None:
        self.replica.stop("immediate")
        self.primary.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
