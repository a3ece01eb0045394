"""Project-wide pytest fixtures: users of every role, authenticated API clients."""

import os

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from clarity.users.tests.factories import UserFactory


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("postgres_only") and connection.vendor != "postgresql":
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL=postgres://...)"))


@pytest.fixture(scope="session", autouse=True)
def _require_postgres_when_asked():
    # CI sets this for its PostgreSQL pass: a silent fallback to SQLite would be a false green.
    if os.environ.get("CLARITY_REQUIRE_POSTGRES") and connection.vendor != "postgresql":
        pytest.exit("CLARITY_REQUIRE_POSTGRES is set but DATABASE_URL is not PostgreSQL", returncode=3)


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    # Argon2 with production parameters costs ~250 ms per hash on CI machines; every user
    # fixture and login would pay it. Tests check behaviour, not the hasher's strength.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture
def admin_user(db):
    return UserFactory(role="admin", is_staff=True, is_superuser=True, username="admin-user")


@pytest.fixture
def clinician(db):
    return UserFactory(role="clinician")


@pytest.fixture
def other_clinician(db):
    return UserFactory(role="clinician")


@pytest.fixture
def researcher(db):
    return UserFactory(role="researcher")


@pytest.fixture
def patient_user(db):
    return UserFactory(role="patient")


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for():
    """`client_for(user)` → an APIClient authenticated as `user` (None: anonymous)."""

    def make(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        return client

    return make
