"""The production server for tests that drive it over real HTTP (static files, browser tests).

`production_server()` prepares what a deploy does — a fresh database (a scratch
PostgreSQL database when the suite runs on PostgreSQL, a SQLite file otherwise),
`migrate`, `collectstatic` into a temporary STATIC_ROOT, `seed_demo` — and starts
`python -m clarity.serve` with production settings on a free port.
"""

import contextlib
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.db import connection

from clarity.tests.reliability.harness import PgServer, ServerProcess, manage, production_env, scratch_database

SESSION_COOKIE = "sessionid"


@dataclass
class LiveServer:
    url: str
    env: dict
    passwords: dict = field(default_factory=dict)
    process: ServerProcess | None = None


@contextlib.contextmanager
def _database(env: dict, tmp: Path):
    if connection.vendor == "postgresql":
        with scratch_database(PgServer.from_settings(connection.settings_dict), env) as name:
            yield PgServer.from_settings(connection.settings_dict).url(name)
    else:
        url = f"sqlite:///{tmp / 'live.sqlite3'}"
        manage({**env, "DATABASE_URL": url}, "migrate", "--noinput", "-v", "0")
        yield url


@contextlib.contextmanager
def production_server(*, patients: int = 12, workers: int = 2):
    tmp = Path(tempfile.mkdtemp(prefix="clarity-live-"))
    # localhost as well: browsers keep Secure cookies for http://localhost (a secure context).
    base = production_env("", DJANGO_STATIC_ROOT=tmp / "static", DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost")
    try:
        with _database(base, tmp) as database_url:
            env = {**base, "DATABASE_URL": database_url}
            manage(env, "collectstatic", "--noinput", "-v", "0")
            seeded = manage(env, "seed_demo", "--patients", str(patients)).stdout
            passwords = dict(re.findall(r"^\s+(demo-[a-z]+)\s+(\S+)$", seeded, flags=re.MULTILINE))
            process = ServerProcess(env, workers=workers).start()
            try:
                yield LiveServer(url=process.url, env=env, passwords=passwords, process=process)
            finally:
                process.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _cookie_header(cookies: dict) -> dict:
    # Production cookies are Secure; httpx's cookie jar would not send them over plain HTTP.
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


def admin_session(server: LiveServer, username: str = "demo-admin") -> dict:
    """Sign in through /admin/login/ like a browser; returns the cookies of the session."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get("/admin/login/")
        cookies = {"csrftoken": page.cookies["csrftoken"]}
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = client.post(
            "/admin/login/?next=/admin/",
            data={"username": username, "password": server.passwords[username], "csrfmiddlewaretoken": token},
            headers=_cookie_header(cookies),
        )
        assert response.status_code == 302, response.text[:500]
        cookies[SESSION_COOKIE] = response.cookies[SESSION_COOKIE]
        return cookies


def get(server: LiveServer, path: str, cookies: dict | None = None, **headers) -> httpx.Response:
    return httpx.get(server.url + path, headers={**_cookie_header(cookies or {}), **headers}, timeout=30)
