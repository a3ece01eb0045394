"""Production settings: hardened, and refusing to start without their secrets."""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(env_overrides, *args):
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "PYTEST_VERSION" and not key.startswith(("DJANGO_", "DATABASE_", "AUDIT_", "PHI_"))
    }
    env.update(
        {
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
            "AUDIT_HMAC_KEY": secrets.token_hex(32),
            "PHI_ENCRYPTION_KEYS": "k1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "PHI_BLIND_INDEX_KEY": secrets.token_hex(32),
            "DJANGO_ALLOWED_HOSTS": "clarity.example.org",
            # An empty .env path keeps a developer's local .env out of this check.
            "CLARITY_ENV_FILE": "/nonexistent",
        }
    )
    env.update(env_overrides)
    env = {key: value for key, value in env.items() if value is not None}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_reports_no_warnings_in_production_settings():
    result = _run({}, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "missing", ["DJANGO_SECRET_KEY", "AUDIT_HMAC_KEY", "PHI_ENCRYPTION_KEYS", "PHI_BLIND_INDEX_KEY"]
)
def test_production_refuses_to_start_without_a_secret(missing):
    result = _run({missing: None}, "check")
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_refuses_a_remote_database_without_tls():
    result = _run({"DATABASE_URL": "postgres://app:pw@db.example.org:5432/clarity"}, "check")
    assert result.returncode != 0
    assert "sslmode" in result.stderr
    ok = _run({"DATABASE_URL": "postgres://app:pw@db.example.org:5432/clarity?sslmode=verify-full"}, "check")
    assert "sslmode" not in ok.stderr
