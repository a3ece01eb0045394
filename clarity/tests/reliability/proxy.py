"""A loopback TCP proxy that a test can cut: the database "goes away" for the server.

    proxy = FaultProxy(("127.0.0.1", 5432)).start()   # listens on 127.0.0.1:proxy.port
    proxy.cut()        # reset every open connection; new ones are refused (reset on accept)
    proxy.restore()    # accept and forward again
    proxy.stop()

It runs its own asyncio loop on a daemon thread, so the test's thread stays free to
drive clients. `cut()` returns once every open connection has been torn down.
A "refused" connection is accepted and immediately reset (SO_LINGER 0), which a client
sees as the server closing the connection unexpectedly, as when PostgreSQL restarts.
"""

import asyncio
import socket
import struct
import threading


class FaultProxy:
    def __init__(self, upstream: tuple[str, int], host: str = "127.0.0.1"):
        self.upstream = upstream
        self.host = host
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server = None
        self._open = True
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.accepted = 0
        self.refused = 0

    # --- control (called from the test thread) ---------------------------------------
    def start(self) -> "FaultProxy":
        self._thread.start()
        self._call(self._start())
        return self

    def cut(self) -> None:
        """Reset every connection and refuse new ones until restore()."""
        self._call(self._cut())

    def restore(self) -> None:
        self._call(self._restore())

    def stop(self) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    @property
    def open_connections(self) -> int:
        return len(self._pairs)

    def _call(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # --- inside the proxy's loop ------------------------------------------------------
    async def _start(self):
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self):
        await self._cut()
        self._server.close()
        await self._server.wait_closed()

    async def _cut(self):
        self._open = False
        for pair in list(self._pairs):
            for writer in pair:
                _reset(writer)
        self._pairs.clear()

    async def _restore(self):
        self._open = True

    async def _handle(self, client_reader, client_writer):
        if not self._open:
            self.refused += 1
            _reset(client_writer)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _reset(client_writer)
            return
        self.accepted += 1
        pair = (client_writer, upstream_writer)
        self._pairs.add(pair)
        try:
            await asyncio.gather(
                self._pipe(client_reader, upstream_writer),
                self._pipe(upstream_reader, client_writer),
            )
        finally:
            self._pairs.discard(pair)
            for writer in pair:
                writer.close()

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # Half-close politely when the peer finished; a cut has already reset both ends.
            if not writer.is_closing():
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    writer.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN: the peer's next read fails at once."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()
