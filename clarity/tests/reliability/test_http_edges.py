"""The edges of the request path on the production server, over raw sockets: a request
head is capped (431/414) before the parser does quadratic work, requests that never
finish are timed out (408), HTTP/1.1 needs Host, the server's own errors are
problem+json, and a WebSocket handshake is refused without a 500 or a traceback.
"""

import json
import socket
import time

import httpx
import pytest
import websockets.exceptions
import websockets.sync.client

from clarity.tests.reliability.harness import ServerProcess

pytestmark = pytest.mark.postgres_only

READ_TIMEOUT = 2
HEAD_CAP = 32 * 1024  # the default HTTP_HEADER_MAX_BYTES


@pytest.fixture(scope="module")
def edge_server(direct_env, world):
    process = ServerProcess({**direct_env, "HTTP_READ_TIMEOUT": str(READ_TIMEOUT)}, workers=2).start()
    yield process
    process.close()


def _exchange(port: int, pieces, *, timeout: float = 15, pause: float = 0) -> tuple[int, dict, bytes, float]:
    """Send `pieces` (stopping if the server answers or closes), read the answer.
    Returns (status, headers, body, seconds until the answer was complete)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for piece in pieces:
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            if pause:
                time.sleep(pause)
        response = b""
        while True:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            response += data
    seconds = time.monotonic() - started
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines[0].startswith("HTTP/1.1 ") else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body, seconds


def _problem(status, headers, body, expected: int) -> dict:
    assert status == expected, (status, headers, body[:300])
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == expected and problem["title"] and problem["detail"]
    return problem


def _get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}".encode()


def _still_serving(server):
    assert httpx.get(f"{server.url}/health/ready/", timeout=10).status_code == 200


# --- head cap -----------------------------------------------------------------------------------


def test_a_huge_header_sent_in_pieces_gets_431_before_it_is_all_read(edge_server):
    # 8 MiB of one header value in 64 KiB pieces: httptools would concatenate it piece by piece.
    piece = b"a" * 65536
    pieces = [_get("/health/live/", "X-Big: "), *([piece] * 128), b"\r\n\r\n"]

    status, headers, body, seconds = _exchange(edge_server.port, pieces)

    _problem(status, headers, body, 431)
    assert seconds < 5
    _still_serving(edge_server)


def test_more_than_100_header_fields_get_431(edge_server):
    extra = "".join(f"X-H{n}: v\r\n" for n in range(150)) + "\r\n"

    _problem(*_exchange(edge_server.port, [_get("/health/live/", extra)])[:3], 431)


def test_a_request_line_over_the_cap_gets_414_problem_json(edge_server):
    # A URL over 64 KiB used to get uvicorn's plain-text 400.
    path = "/api/v1/patients/?search=" + "x" * (70 * 1024)

    _problem(*_exchange(edge_server.port, [_get(path, "\r\n")])[:3], 414)


def test_a_head_just_under_the_cap_is_served(edge_server):
    extra = "".join(f"X-Pad-{n}: {'p' * 500}\r\n" for n in range(50)) + "\r\n"  # ~25 KiB of fields

    status, headers, body, _ = _exchange(edge_server.port, [_get("/health/live/", extra)])

    assert status == 200, body[:300]


def test_a_malformed_request_line_gets_400_problem_json(edge_server):
    _problem(*_exchange(edge_server.port, [b"GET / HTTP/1.1 extra junk\r\n\r\n"])[:3], 400)


# --- read timeouts ------------------------------------------------------------------------------


def test_a_head_that_never_finishes_gets_408_after_the_read_timeout(edge_server):
    status, headers, body, seconds = _exchange(edge_server.port, [b"GET /health/live/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"])

    _problem(status, headers, body, 408)
    assert READ_TIMEOUT <= seconds < READ_TIMEOUT + 3


def test_a_connection_that_sends_nothing_is_closed_after_the_read_timeout(edge_server):
    status, _, body, seconds = _exchange(edge_server.port, [])

    assert status == 408, body[:200]
    assert READ_TIMEOUT <= seconds < READ_TIMEOUT + 3


def test_a_body_that_never_finishes_gets_408_after_the_read_timeout(edge_server, world):
    head = (
        "POST /api/v1/patients/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {world['tokens']['clinician']}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    ).encode()

    status, headers, body, seconds = _exchange(edge_server.port, [head, b'{"mrn": "'])

    _problem(status, headers, body, 408)
    assert READ_TIMEOUT <= seconds < READ_TIMEOUT + 3
    _still_serving(edge_server)


def test_a_slow_but_steady_upload_is_not_cut(edge_server, world):
    body = json.dumps({"mrn": f"SLOW-{time.time_ns()}", "given_name": "Slow", "family_name": "Upload",
                       "date_of_birth": "1980-01-01", "sex": "unknown"}).encode()  # fmt: skip
    head = (
        "POST /api/v1/patients/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Bearer {world['tokens']['clinician']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    thirds = [body[: len(body) // 3], body[len(body) // 3 : 2 * len(body) // 3], body[2 * len(body) // 3 :]]

    # Each piece within the read timeout, the whole upload longer than it.
    status, _, response, seconds = _exchange(edge_server.port, [head, *thirds], pause=READ_TIMEOUT * 0.6)

    assert status == 201, response[:300]
    assert seconds > READ_TIMEOUT


# --- Host ---------------------------------------------------------------------------------------


def test_http_1_1_without_host_gets_400_problem_json(edge_server):
    problem = _problem(
        *_exchange(edge_server.port, [b"GET /health/live/ HTTP/1.1\r\nConnection: close\r\n\r\n"])[:3], 400
    )

    assert "Host" in problem["detail"]


def test_http_1_1_with_two_hosts_gets_400(edge_server):
    request = b"GET /health/live/ HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"

    _problem(*_exchange(edge_server.port, [request])[:3], 400)


def test_http_1_0_without_host_is_still_served(edge_server):
    status, _, body, _ = _exchange(edge_server.port, [b"GET /health/live/ HTTP/1.0\r\n\r\n"])

    assert status == 200, body[:200]


# --- WebSocket ----------------------------------------------------------------------------------


def test_a_websocket_handshake_is_refused_without_a_500_or_an_error_log(edge_server, world):
    before = len(edge_server.log())
    statuses = []
    for path in ("/api/v1/patients/", "/health/live/", "/ws/"):
        for _ in range(20):
            with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
                websockets.sync.client.connect(f"ws://127.0.0.1:{edge_server.port}{path}", open_timeout=10)
            statuses.append(refused.value.response.status_code)

    assert all(status < 500 and status != 101 for status in statuses), statuses
    log = edge_server.log()[before:]
    assert "ERROR" not in log and "Traceback" not in log and "Unsupported upgrade" not in log, log[-2000:]
    _still_serving(edge_server)
