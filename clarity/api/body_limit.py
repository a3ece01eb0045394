"""ASGI wrapper that enforces the request body limit before Django reads a byte of the body.

Django's ASGI handler reads the whole body into a spooled temporary file before any
middleware runs, so a chunked upload (no Content-Length) of any size would be written to
disk first; and DRF treats a body without Content-Length as empty, so a chunked PATCH
silently did nothing. Here:

- Content-Length over the limit: 413 at once, the body is never read;
- a body without Content-Length (chunked): read here, up to the limit; past it, 413 and
  the connection is closed; within it, handed to Django whole, with a Content-Length.

Every 413 closes the connection, so a client still sending cannot keep the worker busy.
"""

import orjson

from clarity.api.errors import DEFAULT_DETAILS, PROBLEM_CONTENT_TYPE, TITLES


class BodyLimitMiddleware:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length, chunked = None, False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if length is not None:
            if length > self.max_bytes:
                return await self._too_large(scope, send)
            return await self.app(scope, receive, send)
        if not chunked:
            return await self.app(scope, receive, send)

        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                return await self._too_large(scope, send)
            chunks.append(body)
            if not message.get("more_body", False):
                break
        headers = [(n, v) for n, v in scope["headers"] if n != b"transfer-encoding"]
        headers.append((b"content-length", str(size).encode()))
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return await self.app({**scope, "headers": headers}, replay, send)

    async def _too_large(self, scope, send):
        if scope.get("path", "").startswith("/api/"):
            content_type = PROBLEM_CONTENT_TYPE.encode()
            body = orjson.dumps(
                {"type": "about:blank", "title": TITLES[413], "status": 413, "detail": DEFAULT_DETAILS[413]}
            )
        else:
            content_type, body = b"text/plain; charset=utf-8", b"Request body too large.\n"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
