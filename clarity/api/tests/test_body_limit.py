"""The ASGI body limit: oversized bodies are refused before Django reads them; a chunked
body within the limit reaches Django whole, with a Content-Length (DRF ignores bodies without one).
"""

import asyncio

import orjson

from clarity.api.body_limit import BodyLimitMiddleware

LIMIT = 1000


class RecordingApp:
    def __init__(self):
        self.scope = None
        self.body = None

    async def __call__(self, scope, receive, send):
        self.scope = scope
        message = await receive()
        self.body = message.get("body", b"")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(headers, messages, path="/api/v1/patients/"):
    app = RecordingApp()
    sent, received = [], list(messages)
    pulled = 0

    async def receive():
        nonlocal pulled
        pulled += 1
        return received.pop(0) if received else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "headers": headers}
    asyncio.run(BodyLimitMiddleware(app, LIMIT)(scope, receive, send))
    return app, sent, pulled


def chunks(*sizes):
    return [
        {"type": "http.request", "body": b"x" * size, "more_body": i < len(sizes) - 1} for i, size in enumerate(sizes)
    ]


def test_a_content_length_over_the_limit_gets_413_without_reading_the_body():
    app, sent, pulled = call([(b"content-length", b"1001")], chunks(1001))
    assert pulled == 0 and app.scope is None
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]
    assert (b"content-type", b"application/problem+json") in sent[0]["headers"]
    assert orjson.loads(sent[1]["body"])["status"] == 413


def test_a_chunked_body_over_the_limit_gets_413_and_is_not_read_to_the_end():
    app, sent, pulled = call([(b"transfer-encoding", b"chunked")], chunks(600, 600, 600, 600))
    assert app.scope is None
    assert pulled == 2
    assert sent[0]["status"] == 413


def test_a_chunked_body_within_the_limit_reaches_the_app_whole_with_a_content_length():
    app, sent, _ = call(
        [(b"transfer-encoding", b"chunked"), (b"content-type", b"application/json")], chunks(400, 400, 200)
    )
    assert sent[0]["status"] == 200
    assert app.body == b"x" * 1000
    headers = dict(app.scope["headers"])
    assert headers[b"content-length"] == b"1000"
    assert b"transfer-encoding" not in headers


def test_a_body_within_the_limit_passes_through_untouched():
    app, sent, _ = call([(b"content-length", b"1000")], chunks(1000))
    assert app.body == b"x" * 1000 and sent[0]["status"] == 200


def test_outside_the_api_a_413_is_plain_text():
    _, sent, _ = call([(b"content-length", b"5000")], [], path="/admin/login/")
    assert sent[0]["status"] == 413
    assert (b"content-type", b"text/plain; charset=utf-8") in sent[0]["headers"]
