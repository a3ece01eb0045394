"""The production server: `python -m clarity.serve --workers 2 --host 0.0.0.0 --port 8000`.

N uvicorn worker processes (uvloop + httptools, no lifespan, production settings), each
with its OWN listening socket bound with SO_REUSEPORT, so the kernel spreads incoming
connections over the workers. (`uvicorn --workers` and gunicorn share one socket and
let whichever worker wakes first accept: 32 keep-alive connections split 32/0 or 28/4.)

Shutdown: on SIGTERM or SIGINT the parent sends SIGTERM to every worker; each stops
accepting, closes idle keep-alive connections, lets in-flight requests finish (at most
--graceful-timeout seconds, then cancels them) and exits; the parent then exits 0.
A worker that dies on its own takes the server down (exit 1): the supervisor
(systemd, Kubernetes, ...) restarts it whole rather than it limping on with fewer workers.
"""

import argparse
import errno
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time

log = logging.getLogger("clarity.serve")


def _listening_socket(host: str, port: int, *, reuse_port: bool, backlog: int = 2048) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def _worker(host: str, port: int, graceful_timeout: int, log_level: str) -> None:
    """One worker process: its own SO_REUSEPORT socket, one uvicorn server."""
    # Production settings whatever a local .env says (settings.py does not overwrite os.environ).
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clarity.settings")
    import uvicorn

    # uvicorn re-raises the signal that stopped it once it has shut down; a no-op
    # handler underneath makes that a clean exit 0 instead of death by SIGTERM.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    from django.conf import settings

    sock = _listening_socket(host, port, reuse_port=True)
    # X-Forwarded-For/-Proto are believed only from TRUSTED_PROXIES (default: nobody).
    # uvicorn's own default trusts 127.0.0.1, so any local client could choose the address
    # the per-IP lockout counts and the audit trail records.
    trusted = settings.TRUSTED_PROXIES
    config = uvicorn.Config(
        "clarity.asgi:application",
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,  # the app writes its own structured access line (clarity.access)
        log_level=log_level,
        timeout_graceful_shutdown=graceful_timeout,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        server_header=False,
    )
    _harden(config)
    uvicorn.Server(config).run(sockets=[sock])


def _harden(config) -> None:
    """The limits uvicorn lacks: head cap, read and send timeouts and problem+json server
    errors (clarity/http_protocol.py); and no WebSocket at all (Upgrade is ignored)."""
    from clarity.http_protocol import ClarityHttpProtocol

    config.http = ClarityHttpProtocol
    config.ws = "none"


def _port_is_free(host: str, port: int) -> bool:
    # Without SO_REUSEPORT: fails if anything, including a stale server that our
    # workers would otherwise silently share the port with, is listening there.
    try:
        _listening_socket(host, port, reuse_port=False).close()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return False
        raise
    return True


def serve(*, workers: int, host: str, port: int, graceful_timeout: int, log_level: str) -> int:
    if not _port_is_free(host, port):
        log.error("port %s:%d is already in use", host, port)
        return 1
    context = multiprocessing.get_context("spawn")
    procs = [
        context.Process(target=_worker, args=(host, port, graceful_timeout, log_level), name=f"clarity-worker-{i}")
        for i in range(workers)
    ]
    stopping_since = None

    def stop(signum, _frame):
        nonlocal stopping_since
        if stopping_since is None:
            stopping_since = time.monotonic()
            log.info("received %s: stopping %d workers gracefully", signal.Signals(signum).name, len(procs))
        for proc in procs:
            if proc.pid and proc.exitcode is None:
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for proc in procs:
        proc.start()
    log.info("serving on http://%s:%d with %d workers: %s", host, port, workers, " ".join(str(p.pid) for p in procs))

    failed = False
    while any(proc.exitcode is None for proc in procs):
        multiprocessing.connection.wait([p.sentinel for p in procs if p.exitcode is None], timeout=0.5)
        if stopping_since is None and any(p.exitcode is not None for p in procs):
            failed = True
            log.error("a worker exited unexpectedly: stopping the server")
            stop(signal.SIGTERM, None)
        if stopping_since is not None and time.monotonic() - stopping_since > graceful_timeout + 5:
            for proc in procs:
                if proc.exitcode is None:
                    proc.kill()
    for proc in procs:
        proc.join()
    return 1 if failed or any(p.exitcode != 0 for p in procs) else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clarity.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPU count)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--graceful-timeout", type=int, default=30, help="seconds in-flight requests get on shutdown")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return serve(
        workers=args.workers,
        host=args.host,
        port=args.port,
        graceful_timeout=args.graceful_timeout,
        log_level=args.log_level,
    )


if __name__ == "__main__":
    sys.exit(main())
