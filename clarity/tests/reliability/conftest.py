"""Session fixtures for the reliability suite: a scratch database, a fault proxy in front
of it, fixture users with real tokens, and the production server talking through the proxy.

These tests run real processes against real PostgreSQL, so they are `postgres_only`;
they never touch pytest-django's test database.
"""

import logging

import pytest
from django.conf import settings

from clarity.tests.reliability.harness import PgServer, ServerProcess, production_env, scratch_database, seed_world
from clarity.tests.reliability.proxy import FaultProxy


@pytest.fixture(autouse=True)
def _quiet_http_client_logs():
    # httpx logs every request at INFO, and the suite's log capture runs at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def pg():
    return PgServer.from_settings(settings.DATABASES["default"])


@pytest.fixture(scope="session")
def base_env(pg):
    # One set of secrets for every process of the session: the seeding script encrypts
    # PHI and the server must read it back with the same keys.
    return production_env(pg.url("postgres"))


@pytest.fixture(scope="session")
def rel_db(pg, base_env):
    with scratch_database(pg, base_env) as name:
        yield name


@pytest.fixture(scope="session")
def direct_env(pg, base_env, rel_db):
    """Environment pointing straight at the scratch database (no proxy)."""
    return {**base_env, "DATABASE_URL": pg.url(rel_db)}


@pytest.fixture(scope="session")
def world(direct_env):
    return seed_world(direct_env, patients=3)


@pytest.fixture(scope="session")
def proxy(pg):
    fault_proxy = FaultProxy((pg.host, pg.port)).start()
    yield fault_proxy
    fault_proxy.stop()


@pytest.fixture(scope="session")
def proxied_env(pg, direct_env, rel_db, proxy):
    return {**direct_env, "DATABASE_URL": pg.url(rel_db, port=proxy.port)}


@pytest.fixture(scope="session")
def server(proxied_env, world):
    """The production server (2 workers) reaching PostgreSQL only through the fault proxy."""
    process = ServerProcess(proxied_env, workers=2).start()
    yield process
    process.close()


@pytest.fixture
def healthy_proxy(proxy, server):
    """Every test starts and ends with the database reachable, whatever it did in between."""
    proxy.restore()
    yield proxy
    proxy.restore()
