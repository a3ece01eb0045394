"""Helpers for the API suites (patients, twins and interactions come from each app's
tests/factories.py).

`bearer_client(user)` issues a real token (stored hashed, as the token endpoint does) and
returns an APIClient that presents it; `assert_problem()` checks the RFC 9457 shape every
error must have.
"""

import datetime
import itertools
import json

from django.contrib.auth.hashers import make_password
from django.utils import timezone
from rest_framework.test import APIClient

from clarity.audit.models import AuditEvent
from clarity.users.models import ApiToken, User, hash_token
from clarity.users.tests.factories import TEST_PASSWORD
from patients.models import CareTeamMembership, Patient

_sequence = itertools.count(1)

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def make_users(count: int, *, role: str = "clinician", prefix: str = "bulk") -> list[User]:
    """Many users in one INSERT (no password hashing per row)."""
    password = make_password(None)
    n = next(_sequence)
    users = [
        User(username=f"{prefix}{n}-{i:04d}", email=f"{prefix}{n}-{i:04d}@example.org", role=role, password=password)
        for i in range(count)
    ]
    return User.objects.bulk_create(users)


def issue_token(user, *, expires_in: datetime.timedelta = datetime.timedelta(hours=1)) -> str:
    """A real API token for `user`, stored as the service stores it (hash only)."""
    raw = ApiToken.generate_raw()
    now = timezone.now()
    ApiToken.objects.create(user=user, key_hash=hash_token(raw), created_at=now, expires_at=now + expires_in)
    return raw


def bearer_client(user, **kwargs) -> APIClient:
    """An APIClient presenting a real bearer token for `user` (None: anonymous)."""
    client = APIClient(**kwargs)
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(user)}")
    return client


def token_login(username, password=TEST_PASSWORD, **extra):
    """POST a username and password to the token endpoint, as a client signing in does."""
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json", **extra)


def assert_problem(response, status: int) -> dict:
    """The response is an RFC 9457 problem with `status`; returns the parsed body."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/problem+json", response["Content-Type"]
    body = json.loads(response.content)
    assert PROBLEM_KEYS <= set(body), body
    assert body["status"] == status
    assert "Traceback" not in response.content.decode()
    return body


def body_of(response):
    return json.loads(response.content) if response.content else None


def phi_strings(patient: Patient) -> list[str]:
    values = [
        patient.given_name,
        patient.family_name,
        patient.mrn,
        patient.date_of_birth.isoformat(),
        patient.email,
        patient.phone,
        patient.address,
    ]
    return [v for v in values if v]


def audit_field_values() -> list[str]:
    """Every field value of every audit event, as strings."""
    names = [f.attname for f in AuditEvent._meta.concrete_fields]
    return [str(value) for row in AuditEvent.objects.values_list(*names) for value in row if value is not None]


def bulk_patients(count: int, *, primary, consulting=None) -> list[Patient]:
    """Many patients, each with `primary` (and optionally `consulting`) on its care team, in three INSERTs."""
    n = next(_sequence)
    patients = Patient.objects.bulk_create(
        Patient(
            mrn=f"BULK{n}-{i:05d}",
            given_name=f"Bulk{i:05d}",
            family_name=f"Family{n}",
            date_of_birth=datetime.date(1970, 1, 1) + datetime.timedelta(days=i),
        )
        for i in range(count)
    )
    members = [CareTeamMembership(patient=p, clinician=primary, role="primary") for p in patients]
    if consulting is not None:
        members += [CareTeamMembership(patient=p, clinician=consulting, role="consulting") for p in patients]
    CareTeamMembership.objects.bulk_create(members)
    return patients
