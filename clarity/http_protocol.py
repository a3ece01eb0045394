"""uvicorn's httptools protocol with the limits uvicorn lacks (used by `python -m clarity.serve`).

One client must not be able to hold a worker's memory, CPU or connections:

- **Head cap.** httptools joins a header value that arrives in pieces by concatenating
  bytes (quadratic), and uvicorn sets no limit: a 64 MiB header took 5 s of CPU and
  ~500 MiB of RSS. Bytes of a request head (request line + headers) are counted BEFORE
  they reach the parser; past `HTTP_HEADER_MAX_BYTES` the request is answered 431
  (or 414 while the request line itself is still unfinished) and the connection closed.
  More than `HTTP_HEADER_MAX_COUNT` fields → 431 as well.
- **Read timeout.** A request head must be complete within `HTTP_READ_TIMEOUT` seconds
  of its first byte (or of the connection opening), and while a body is uploaded each
  piece must follow the previous one within that time; otherwise 408 and close.
  (uvicorn only times out idle keep-alive connections between requests.)
- **Send timeout.** If the client stops reading, the transport's write buffer fills and
  uvicorn's `send` waits forever. When writing has been paused for `HTTP_SEND_TIMEOUT`
  seconds the connection is aborted; the app sees a disconnect and stops producing.
- **Server-level errors as problem+json.** uvicorn's own 400 ("Invalid HTTP request
  received.") is plain text; here every refusal the protocol writes is problem+json.
- **No WebSocket.** The server runs with `ws="none"`: an `Upgrade: websocket` request is an
  ordinary HTTP request (RFC 9110 lets a server ignore Upgrade) and gets the route's own
  answer; uvicorn's per-request "Unsupported upgrade request" warnings are not logged.

The limits are read from Django settings (configured before uvicorn builds a protocol).
"""

import contextlib
import json
import logging
import socket
import struct

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger("clarity.serve")

_DETAILS = {
    400: "The request is not valid HTTP/1.1.",
    408: "The request was not received in time.",
    414: "The request target is longer than the server accepts.",
    431: "The request's header fields are too large or too many.",
}
_TITLES = {400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long", 431: "Request Header Fields Too Large"}


def problem_bytes(status: int, detail: str | None = None) -> bytes:
    """A complete HTTP/1.1 problem+json response that closes the connection."""
    body = json.dumps(
        {"type": "about:blank", "title": _TITLES[status], "status": status, "detail": detail or _DETAILS[status]}
    ).encode()
    return b"".join(
        [
            STATUS_LINE[status],
            b"content-type: application/problem+json\r\n",
            b"cache-control: no-store\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the status is on the protocol."""


class ClarityHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from django.conf import settings

        self.header_max_bytes = settings.HTTP_HEADER_MAX_BYTES
        self.header_max_count = settings.HTTP_HEADER_MAX_COUNT
        self.read_timeout = settings.HTTP_READ_TIMEOUT
        self.send_timeout = settings.HTTP_SEND_TIMEOUT
        self._reading = "head"  # "head", "body", or None between requests
        self._head_bytes = 0
        self._header_count = 0
        self._refusal: int | None = None
        self._read_timer = None
        self._send_timer = None

    # --- connection lifetime ------------------------------------------------------------

    def connection_made(self, transport):
        super().connection_made(transport)
        self._arm_read_timer()  # a connection that never sends a byte is not kept either

    def connection_lost(self, exc):
        self._cancel_timers()
        super().connection_lost(exc)

    def _cancel_timers(self):
        for timer in (self._read_timer, self._send_timer):
            if timer is not None:
                timer.cancel()
        self._read_timer = self._send_timer = None

    def _refuse(self, status: int) -> None:
        self._cancel_timers()
        if not self.transport.is_closing():
            self.transport.write(problem_bytes(status))
            self.transport.close()

    # --- head cap -----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._reading == "body" or self.transport.is_closing():
            super().data_received(data)
            return
        room = self.header_max_bytes - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            super().data_received(data)
            return
        # Feed only what the cap allows: if the head completes within it, the rest is body
        # (or the next request) and goes on as usual; otherwise the request is refused
        # before the parser ever sees the excess.
        self._head_bytes += room
        super().data_received(data[:room])
        if self.transport.is_closing():
            return
        if self._reading == "head":
            # No header field yet: the request line alone is over the cap.
            self._refuse(414 if self._header_count == 0 else 431)
            return
        self.data_received(data[room:])

    def on_message_begin(self) -> None:
        self._reading = "head"
        self._header_count = 0
        self._arm_read_timer()
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.header_max_count:
            self._refusal = 431
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading = "body"
        self._arm_read_timer()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._arm_read_timer()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._reading = None
        self._head_bytes = 0
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        super().on_message_complete()

    # --- server-level errors ------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        status, self._refusal = self._refusal or 400, None
        self._refuse(status)

    def _unsupported_upgrade_warning(self) -> None:
        # ws="none" on purpose (see the module docstring): nothing to warn about per request.
        pass

    # --- read timeout -------------------------------------------------------------------

    def _arm_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
        self._read_timer = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self._reading is None or self.transport.is_closing():
            return
        if self.flow.read_paused:
            # We stopped reading (the app has not consumed the body yet): not the client's fault.
            self._arm_read_timer()
            return
        if self.cycle is not None and self.cycle.response_started and not self.cycle.response_complete:
            # A response is on the wire (an early answer, or the previous pipelined request's):
            # a 408 cannot be written into it; just close.
            self.transport.close()
            return
        self._refuse(408)

    # --- send timeout -------------------------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.send_timeout, self._send_timed_out)

    def resume_writing(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        super().resume_writing()

    def _send_timed_out(self) -> None:
        self._send_timer = None
        if self.flow.write_paused:
            log.info("send timeout: the client did not keep reading for %ss; connection reset", self.send_timeout)
            # A plain close would let the kernel go on trickling its send buffer (up to MiBs)
            # to the slow client; linger 0 makes it a reset that drops the buffer at once.
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()
