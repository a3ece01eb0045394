"""Timeouts and limits on the production server: one slow query or one huge body cannot
take a worker down. A query stuck behind a lock is cancelled by statement_timeout (503 +
Retry-After); a body over 10 MiB gets 413 whether it declares a Content-Length or is
chunked, without the server reading it to the end.
"""

import json
import os
import select
import socket
import threading
import time

import httpx
import psycopg
import pytest
from django.db import connection

from clarity.tests.reliability.harness import ServerProcess

pytestmark = pytest.mark.postgres_only

STATEMENT_TIMEOUT_MS = 500
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def limited_server(direct_env, world):
    process = ServerProcess(
        {**direct_env, "DATABASE_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS)}, workers=1
    ).start()
    yield process
    process.close()


def test_the_database_connection_carries_the_configured_statement_timeout(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT setting FROM pg_settings WHERE name = 'statement_timeout'")
        assert cursor.fetchone()[0] == os.environ.get("DATABASE_STATEMENT_TIMEOUT_MS", "15000")


def test_a_query_stuck_past_the_statement_timeout_answers_503_and_frees_the_worker(limited_server, world, pg, rel_db):
    # Given the audit table locked, so a read cannot write its audit event
    token = world["tokens"]["clinician"]
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/patients/{world['patients'][0]}/"
    with psycopg.connect(pg.url(rel_db)) as locker:
        locker.execute("LOCK TABLE audit_auditevent IN EXCLUSIVE MODE")
        # When a client reads a patient
        started = time.monotonic()
        response = httpx.get(limited_server.url + path, headers=headers, timeout=30)
        seconds = time.monotonic() - started
        locker.rollback()

    # Then PostgreSQL cancels the statement and the client gets 503 problem+json, promptly
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    assert STATEMENT_TIMEOUT_MS / 1000 <= seconds < STATEMENT_TIMEOUT_MS / 1000 + 3
    # and the same worker serves the next request normally
    assert httpx.get(limited_server.url + path, headers=headers, timeout=30).status_code == 200


def _raw_exchange(port: int, head: bytes, body_chunks, *, timeout: float = 20) -> tuple[int, bytes, int]:
    """Send a request by hand; stop sending as soon as the server answers. Returns (status, response, bytes sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        for chunk in body_chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered (or closed): stop uploading
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        response = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            response += data
            if b"\r\n\r\n" in response and _complete(response):
                break
    status = int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1") else 0
    return status, response, sent


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _head(port, token, extra: str) -> bytes:
    return (
        f"POST /api/v1/patients/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


def test_a_declared_body_over_10_mib_gets_413_before_it_is_sent(limited_server, world):
    port = limited_server.port
    head = _head(port, world["tokens"]["clinician"], f"Content-Length: {10 * MIB + 1}\r\n")
    started = time.monotonic()
    status, response, sent = _raw_exchange(port, head, [b"x" * 65536] * 200)
    assert status == 413, response[:300]
    assert b"application/problem+json" in response
    assert sent < 10 * MIB
    assert time.monotonic() - started < 5


def test_a_chunked_body_over_10_mib_gets_413_and_the_upload_is_cut_short(limited_server, world):
    port = limited_server.port
    piece = b"x" * (256 * 1024)
    chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
    head = _head(port, world["tokens"]["clinician"], "Transfer-Encoding: chunked\r\n")
    # Offer 64 MiB; the server must answer after about 10 MiB.
    status, response, sent = _raw_exchange(port, head, [chunk] * 256)
    assert status == 413, response[:300]
    assert b"application/problem+json" in response
    assert sent < 20 * MIB
    # and the server is fine afterwards
    assert httpx.get(f"{limited_server.url}/health/ready/", timeout=10).status_code == 200


def test_a_chunked_json_body_within_the_limit_is_read_not_ignored(limited_server, world):
    # DRF treats a body without Content-Length as empty; the ASGI wrapper gives it one.
    port = limited_server.port
    body = json.dumps(
        {
            "mrn": f"CHUNK-{time.time_ns()}",
            "given_name": "Chunked",
            "family_name": "Body",
            "date_of_birth": "1991-02-03",
            "sex": "unknown",
        }
    ).encode()
    half = len(body) // 2
    pieces = [body[:half], body[half:]]
    chunks = [b"%x\r\n" % len(p) + p + b"\r\n" for p in pieces] + [b"0\r\n\r\n"]
    head = _head(port, world["tokens"]["clinician"], "Transfer-Encoding: chunked\r\nConnection: close\r\n")
    status, response, _ = _raw_exchange(port, head, chunks)
    assert status == 201, response[:500]


def test_a_slow_request_does_not_block_others_on_the_same_worker(limited_server, world, pg, rel_db):
    # One request stuck on a lock; a second, unrelated one on the same single worker is served meanwhile.
    token = world["tokens"]["clinician"]
    headers = {"Authorization": f"Bearer {token}"}
    results = {}

    def slow():
        results["slow"] = httpx.get(
            f"{limited_server.url}/api/v1/patients/{world['patients'][1]}/", headers=headers, timeout=30
        )

    with psycopg.connect(pg.url(rel_db)) as locker:
        locker.execute("LOCK TABLE audit_auditevent IN EXCLUSIVE MODE")
        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.1)
        live = httpx.get(f"{limited_server.url}/health/live/", timeout=5)
        thread.join(timeout=30)
        locker.rollback()
    assert live.status_code == 200
    assert results["slow"].status_code == 503
