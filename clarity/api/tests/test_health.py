"""Liveness and readiness probes."""

import json

from django.db import OperationalError, connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from clarity.audit.models import AuditEvent


def test_live_answers_ok_without_auth():
    response = APIClient().get("/health/live/")

    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}


def test_ready_answers_200_when_the_database_answers_and_migrations_are_applied(db):
    response = APIClient().get("/health/ready/")

    assert response.status_code == 200
    assert json.loads(response.content)["status"] == "ok"
    assert not AuditEvent.objects.exists()


def test_ready_answers_503_while_a_migration_is_pending(db, monkeypatch):
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("pending", False)])

    response = APIClient().get("/health/ready/")

    assert response.status_code == 503
    assert response["Retry-After"]
    assert json.loads(response.content)["migrations"] == "pending"


def test_ready_answers_503_when_the_database_is_unreachable(db, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    # Undone before the test's own database teardown, which needs a working cursor.
    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", unreachable)
        response = APIClient().get("/health/ready/")

    assert response.status_code == 503
    assert response["Retry-After"]
    body = json.loads(response.content)
    assert body["database"] == "unreachable"
    assert "refused" not in response.content.decode()
