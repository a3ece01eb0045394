"""The outermost ASGI layer: only well-formed HTTP reaches Django.

- A WebSocket handshake is refused cleanly. Django's handler raises on any scope but
  HTTP ("Django can only handle ASGI/HTTP connections"), which the server logged as a
  15-line traceback at ERROR and answered 500. Here it is answered 403 problem+json where
  the server supports the WebSocket denial response extension, else closed before accept
  (which servers answer 403). The production server does not speak WebSocket at all
  (clarity/http_protocol.py); this covers `make run` and any other ASGI server.
- `lifespan` is acknowledged (nothing to start or stop); any other scope type is ignored.
- HTTP/1.1 without exactly one `Host` is 400 (RFC 9112 §3.2): Django would otherwise fall
  back to the server's own address and serve it.
"""

import json
import logging

log = logging.getLogger("clarity.asgi")


def _problem(status: int, title: str, detail: str) -> tuple[list, bytes]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    return headers, body


class ScopeGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "http":
            if scope.get("http_version") == "1.1" and sum(1 for name, _ in scope["headers"] if name == b"host") != 1:
                await self._bad_host(send)
                return
            await self.app(scope, receive, send)
        elif kind == "websocket":
            await self._refuse_websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            log.debug("ignored an ASGI connection of type %r", kind)

    @staticmethod
    async def _bad_host(send):
        headers, body = _problem(400, "Bad Request", "An HTTP/1.1 request needs exactly one Host header.")
        await send({"type": "http.response.start", "status": 400, "headers": [*headers, (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _refuse_websocket(scope, receive, send):
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if "websocket.http.response" in scope.get("extensions", {}):
            headers, body = _problem(403, "Forbidden", "This server does not accept WebSocket connections.")
            await send({"type": "websocket.http.response.start", "status": 403, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})

    @staticmethod
    async def _lifespan(receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
