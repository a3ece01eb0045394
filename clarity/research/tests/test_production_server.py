"""The README's research commands, run as written (bash + curl) against the production server.

An admin defines and builds a dataset, the researcher downloads it in both formats, and no
identifier of the seeded patients (names, MRNs, ids, message texts, birth dates) is in the
bytes they received. Real processes on a scratch PostgreSQL database, so `postgres_only`.
"""

import datetime
import json
import logging
import os
import re
import subprocess
from pathlib import Path

import httpx
import psycopg
import pytest
from django.conf import settings

from clarity.tests.reliability.harness import (
    ROOT,
    PgServer,
    ServerProcess,
    manage,
    production_env,
    scratch_database,
    seed_world,
)

pytestmark = pytest.mark.postgres_only

PASSWORD = "a long researcher passphrase 2026"
FULL_DATE = re.compile(rb"(?<![0-9A-Fa-f])\d{4}-\d{2}-\d{2}(?![0-9A-Fa-f])")


def readme_block(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    after = text.split(f"<!-- {marker} -->", 1)[1]
    return after.split("```sh\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def live():
    logging.getLogger("httpx").setLevel(logging.WARNING)
    pg = PgServer.from_settings(settings.DATABASES["default"])
    env = production_env(pg.url("postgres"))
    with scratch_database(pg, env) as name:
        env = {**env, "DATABASE_URL": pg.url(name)}
        world = seed_world(env, patients=6)
        manage(
            env,
            "shell",
            "-c",
            f"from clarity.users.models import User; u = User.objects.get(pk={world['users']['researcher']!r});"
            f" u.set_password({PASSWORD!r}); u.save()",
        )
        server = ServerProcess(env, workers=1).start()
        try:
            yield server, world, pg.url(name)
        finally:
            server.close()


def run(script: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    environment = {"PATH": os.environ["PATH"], "HOME": str(cwd), **env}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_a_researcher_downloads_with_the_readme_commands_and_gets_no_identifier(live, tmp_path):
    server, world, database_url = live
    clinician = {"Authorization": f"Bearer {world['tokens']['clinician']}"}
    start = datetime.datetime(2025, 2, 3, 4, 5, tzinfo=datetime.UTC)
    for n, patient in enumerate(world["patients"]):
        body = [
            {"kind": "assessment", "payload": {"instrument": "PHQ-9", "score": n}, "occurred_at": start.isoformat()},
            {"kind": "message", "payload": {"text": f"Secretqx{n} message"}, "occurred_at": start.isoformat()},
        ]
        response = httpx.post(f"{server.url}/api/v1/patients/{patient}/interactions/", json=body, headers=clinician)
        assert response.status_code == 201, response.text

    created = run(
        readme_block("research-admin-commands"),
        tmp_path,
        CLARITY=server.url,
        ADMIN_TOKEN=world["tokens"]["admin"],
        RESEARCHER_ID=world["users"]["researcher"],
    )
    dataset = json.loads(created.stdout)
    assert dataset["status"] == "ready" and dataset["manifest"]["counts"]["patients"] == 6

    with psycopg.connect(database_url) as conn:
        username = conn.execute(
            "SELECT username FROM users_user WHERE id = %s", [world["users"]["researcher"]]
        ).fetchone()[0]
        identifiers = conn.execute(
            "SELECT mrn, given_name, family_name, date_of_birth::text FROM patients_patient"
        ).fetchall()
    shown = run(
        readme_block("research-researcher-commands"),
        tmp_path,
        CLARITY=server.url,
        RESEARCHER=username,
        PASSWORD=PASSWORD,
    )
    assert '"manifest"' in shown.stdout

    ndjson = (tmp_path / "dataset.ndjson").read_bytes()
    csv_bytes = (tmp_path / "dataset.csv").read_bytes()
    lines = [json.loads(line) for line in ndjson.splitlines()]
    assert lines[0]["manifest"]["counts"]["rows"] == len(lines) - 1 == 6 * 3  # twin, assessment, message each
    assert sorted(row["score"] for row in lines[1:] if row["kind"] == "assessment") == list(range(6))
    assert csv_bytes.startswith(b"# manifest: ") and len(csv_bytes.splitlines()) == 2 + 6 * 3
    markers = [value for row in identifiers for value in row] + world["patients"] + ["Secretqx", "qx"]
    for body in (ndjson, csv_bytes):
        for marker in markers:
            assert marker.lower().encode() not in body.lower(), marker
        assert not FULL_DATE.search(body)

    with psycopg.connect(database_url) as conn:
        exports = conn.execute(
            "SELECT actor_role, count(*) FROM audit_auditevent WHERE action = 'export' AND resource_type = 'research_dataset'"
            " AND resource_id = %s GROUP BY actor_role ORDER BY actor_role",
            [dataset["id"]],
        ).fetchall()
    assert exports == [("admin", 1), ("researcher", 2)]


def test_the_download_is_streamed_chunked_and_refused_to_others(live):
    server, world, _ = live
    listing = httpx.get(
        f"{server.url}/api/v1/research/datasets/", headers={"Authorization": f"Bearer {world['tokens']['admin']}"}
    )
    dataset = listing.json()["results"][0]["id"]
    url = f"{server.url}/api/v1/research/datasets/{dataset}/download/"
    with httpx.stream("GET", url, headers={"Authorization": f"Bearer {world['tokens']['researcher']}"}) as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked" and "content-length" not in response.headers
        assert response.headers["content-type"] == "application/x-ndjson"
        assert b"".join(response.iter_bytes()).count(b"\n") > 1
    for role, status in (("clinician", 403), ("patient", 403), ("admin", 403)):
        response = httpx.get(url, headers={"Authorization": f"Bearer {world['tokens'][role]}"})
        assert response.status_code == status and response.headers["content-type"] == "application/problem+json"
