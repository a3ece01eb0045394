"""One live break-the-glass grant per clinician and patient, under real concurrency:
parallel requests of one clinician over HTTP to the production server (2 workers,
PostgreSQL) leave one grant; every other request gets 409."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.postgres_only

PARALLEL = 9


def test_parallel_break_glass_requests_leave_one_live_grant(server, healthy_proxy, world, pg, rel_db):
    patient = world["patients"][1]
    url = f"{server.url}/api/v1/patients/{patient}/break-glass/"
    headers = {"Authorization": f"Bearer {world['tokens']['other_clinician']}"}
    body = {"reason": "Unresponsive patient in the emergency department"}

    def ask(_):
        return httpx.post(url, json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(PARALLEL) as pool:
        responses = list(pool.map(ask, range(PARALLEL)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (PARALLEL - 1), [(r.status_code, r.text[:200]) for r in responses]
    assert all(r.headers["content-type"] == "application/problem+json" for r in responses if r.status_code == 409)
    with psycopg.connect(pg.url(rel_db)) as conn:
        live = conn.execute(
            "SELECT count(*) FROM patients_breakglassgrant WHERE patient_id = %s AND clinician_id = %s "
            "AND expires_at > now()",
            [patient, world["users"]["other_clinician"]],
        ).fetchone()[0]
        events = conn.execute(
            "SELECT count(*) FROM audit_auditevent WHERE action = 'break_glass' AND patient_id = %s", [patient]
        ).fetchone()[0]
    assert (live, events) == (1, 1)
