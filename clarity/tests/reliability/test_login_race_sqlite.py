"""The lockout race on SQLite: the production server (2 worker processes) on a SQLite file,
real concurrent clients. SQLite serialises the check and the count with its write lock
(transactions begin IMMEDIATE), where PostgreSQL uses advisory locks; both must hold."""

import secrets

import httpx
import pytest

from clarity.tests.reliability.harness import ServerProcess, manage, production_env
from clarity.tests.reliability.test_login_hardening import CONCURRENCY, PASSWORD, _account, _together


@pytest.fixture(scope="module")
def sqlite_env(tmp_path_factory):
    path = tmp_path_factory.mktemp("login-race") / "clarity.sqlite3"
    env = production_env(f"sqlite:///{path}", TRUSTED_PROXIES="127.0.0.1")
    manage(env, "migrate", "--noinput", "-v", "0")
    return env


@pytest.fixture(scope="module")
def sqlite_server(sqlite_env):
    process = ServerProcess(sqlite_env, workers=2).start()
    yield process
    process.close()


def test_40_concurrent_wrong_passwords_on_sqlite_evaluate_at_most_5(sqlite_server, sqlite_env):
    username = _account(sqlite_env)
    bodies = [{"username": username, "password": f"wrong guess {i:02d} xx"} for i in range(CONCURRENCY)]

    statuses = _together(sqlite_server.url, bodies, {"X-Forwarded-For": "198.51.100.40"})

    assert set(statuses) <= {401, 429}, statuses
    assert 1 <= statuses.count(401) <= 5, statuses
    right = httpx.post(
        f"{sqlite_server.url}/api/v1/auth/token/",
        json={"username": username, "password": PASSWORD},
        headers={"X-Forwarded-For": f"198.51.100.{secrets.randbelow(200) + 41}"},
        timeout=30,
    )
    assert right.status_code == 429
