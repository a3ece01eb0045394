"""Project-wide pytest fixtures: users of every role, authenticated API clients."""

import logging
import os

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from clarity.api.middleware import JsonFormatter
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


# --- No PHI in logs or error bodies (issue #5, HIPAA §164.312(b)) ----------------------
class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.INFO)
        self.lines = []

    def emit(self, record):
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - a broken record is still checked by its raw parts
            text = f"{record.msg} {record.args}"
        self.lines.append(text)


def _phi_strings():
    from patients.models import Patient

    values = set()
    for row in Patient.objects.values_list("mrn", "given_name", "family_name", "date_of_birth", "email", "phone"):
        for value in row:
            if value:
                text = value.isoformat() if hasattr(value, "isoformat") else str(value)
                if len(text) >= 4:
                    values.add(text)
    return values


@pytest.fixture(autouse=True)
def no_phi_in_logs_or_error_bodies(request, monkeypatch):
    """Every test doubles as a check: no patient's PHI appears in any log record or 4xx/5xx body."""
    capture = _Capture()
    capture.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(capture)
    previous_level = root.level
    root.setLevel(logging.INFO)  # production's level; DEBUG SQL logging is off in production
    error_bodies = []
    original = APIClient.request

    def recording_request(self, **kwargs):
        response = original(self, **kwargs)
        if response.status_code >= 400 and not getattr(response, "streaming", False):
            error_bodies.append(response.content.decode(errors="replace"))
        return response

    monkeypatch.setattr(APIClient, "request", recording_request)
    yield
    root.removeHandler(capture)
    root.setLevel(previous_level)
    if "django_db_blocker" not in request.fixturenames or not (capture.lines or error_bodies):
        return
    try:
        phi = _phi_strings()
    except Exception:  # noqa: BLE001 - no database access in this test
        return
    for text in capture.lines + error_bodies:
        leaked = [value for value in phi if value in text]
        assert not leaked, f"PHI leaked into a log record or error body: {text[:300]}"
