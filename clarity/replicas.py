"""Read replicas: which database each query goes to, per request.

`DATABASE_REPLICA_URLS` adds one alias per streaming replica (`replica_1`, `replica_2`,
...); with none configured every query goes to `default` exactly as before. The rules,
each decided per query by `ReplicaRouter`:

- Only a request whose method is safe (GET, HEAD) may read from a replica. Anything else
  (services, which read and write in one transaction), management commands and background
  work run wholly on the primary: their reads must see their own transaction.
- A write pins the rest of the request to the primary — except an audit-event insert:
  every read writes one, so pinning on it would leave the replicas idle.
- Read-your-writes across workers: a response to a request that wrote sets a signed cookie
  (`clarity_primary`, valid `REPLICA_PIN_SECONDS`); a request carrying a valid one reads
  from the primary. The caller carries the state, so any worker honours it.
- A replica that is unreachable or lags more than `REPLICA_MAX_LAG_SECONDS` is skipped;
  a replica that fails mid-request makes that safe request run again on the primary
  (`clarity.api.views.ApiView`), so losing a replica never answers 5xx.

The routing state lives in a ContextVar set by `ReplicaRoutingMiddleware` for each
request: every asyncio task has its own copy, and asgiref carries it into the thread that
runs the request's ORM work. Never a threading.local: one thread serves many requests.
"""

import contextvars
import logging
import random
import threading
import time
from dataclasses import dataclass

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.signals import connection_created

logger = logging.getLogger("clarity.replicas")

PIN_COOKIE = "clarity_primary"
_PIN_SALT = "clarity.replicas.pin"
SAFE_METHODS = frozenset({"GET", "HEAD"})
_WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "MERGE")
# The audit tables (audit_auditevent, audit_auditchainhead): their writes do not pin a
# request. Every read writes an audit event (and seals it), so pinning on them would
# leave the replicas idle.
_UNPINNING_TABLE = "AUDIT_AUDIT"


@dataclass
class RouteState:
    """One request's routing: may it read from a replica, has it written, which replica it used."""

    replica_allowed: bool
    # Replicas are configured: watch this request's writes to pin its caller afterwards.
    track_writes: bool = False
    wrote: bool = False
    used: str | None = None


_route: contextvars.ContextVar[RouteState | None] = contextvars.ContextVar("clarity_db_route", default=None)


def replica_aliases() -> list[str]:
    return list(getattr(settings, "REPLICA_ALIASES", ()))


def current_state() -> RouteState | None:
    return _route.get()


def begin(*, replica_allowed: bool) -> contextvars.Token:
    configured = bool(replica_aliases())
    return _route.set(RouteState(replica_allowed=replica_allowed and configured, track_writes=configured))


def end(token: contextvars.Token) -> None:
    _route.reset(token)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        state = _route.get()
        if state is None or not state.replica_allowed or state.wrote:
            return DEFAULT_DB_ALIAS
        if state.used is None:
            healthy = [alias for alias in replica_aliases() if replica_status(alias).usable]
            if not healthy:
                state.replica_allowed = False
                return DEFAULT_DB_ALIAS
            # One replica per request: its reads see one consistent snapshot position.
            state.used = random.choice(healthy)  # noqa: S311 - load spreading, not security
        return state.used

    def db_for_write(self, model, **hints):
        # Not where a request is pinned: Django also asks this when a foreign key is merely
        # assigned in memory. The statements the primary actually runs decide (_watch_writes).
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # replicas hold the same data as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


def _watch_writes(execute, sql, params, many, context):
    """Execute wrapper on the primary's connection: a data-changing statement (other than
    an audit insert or seal) or a row lock pins the rest of the request to the primary."""
    state = _route.get()
    if state is not None and state.track_writes and not state.wrote and isinstance(sql, str):
        head = sql.lstrip()[:48].upper()
        if head.startswith(_WRITE_STATEMENTS):
            state.wrote = _UNPINNING_TABLE not in head
        elif head.startswith("SELECT") and " FOR UPDATE" in sql.upper():
            state.wrote = True
    return execute(sql, params, many, context)


def _ensure_watched(connection) -> None:
    if _watch_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watch_writes)


def _on_connection_created(sender, connection, **kwargs):
    if connection.alias == DEFAULT_DB_ALIAS:
        _ensure_watched(connection)


# At import (settings' middleware list imports this module): before any connection opens.
connection_created.connect(_on_connection_created, dispatch_uid="clarity.replicas.watch_writes")


def replica_failed() -> bool:
    """
    Called when a safe request's work raised a database error. If it had read from a
    replica, mark that replica down, pin the request to the primary and return True: the
    caller runs the request again. Otherwise return False (the error is the primary's).
    """
    state = _route.get()
    if state is None or state.used is None:
        return False
    mark_down(state.used)
    logger.warning("replica_failed", extra={"replica": state.used})
    state.used = None
    state.replica_allowed = False
    return True


# --- Replica health: per process, checked at most every REPLICA_CHECK_SECONDS -----------


@dataclass
class ReplicaStatus:
    reachable: bool
    lag_seconds: float | None
    checked_at: float

    @property
    def usable(self) -> bool:
        return self.reachable and self.lag_seconds is not None and self.lag_seconds <= settings.REPLICA_MAX_LAG_SECONDS

    def as_dict(self) -> dict:
        if not self.reachable:
            return {"status": "unreachable"}
        return {"status": "ok" if self.usable else "lagging", "lag_seconds": round(self.lag_seconds, 3)}


# Replay lag: 0 when everything received has been replayed (an idle primary is not lag);
# otherwise the age of the last replayed commit. Not in recovery (a mirror): 0.
LAG_SQL = (
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
    " WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0"
    " ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0) END"
)

_status: dict[str, ReplicaStatus] = {}
_probe_connections: dict[str, object] = {}
_probe_lock = threading.Lock()


def mark_down(alias: str) -> None:
    _status[alias] = ReplicaStatus(False, None, time.monotonic())
    _close_probe(alias)


def replica_status(alias: str, *, fresh: bool = False) -> ReplicaStatus:
    status = _status.get(alias)
    if not fresh and status is not None and time.monotonic() - status.checked_at < settings.REPLICA_CHECK_SECONDS:
        return status
    # One thread probes; the others keep the last answer rather than queue behind it.
    if not _probe_lock.acquire(blocking=fresh or status is None):
        return status
    try:
        status = _probe(alias)
        _status[alias] = status
        return status
    finally:
        _probe_lock.release()


def _probe(alias: str) -> ReplicaStatus:
    params = connections[alias].settings_dict
    if connections[alias].vendor != "postgresql":
        return ReplicaStatus(True, 0.0, time.monotonic())
    import psycopg

    try:
        conn = _probe_connections.get(alias)
        if conn is None or conn.closed:
            options = params.get("OPTIONS", {})
            ssl = {key: options[key] for key in ("sslmode", "sslrootcert", "sslcert", "sslkey") if key in options}
            conn = psycopg.connect(
                dbname=params["NAME"],
                user=params.get("USER") or None,
                password=params.get("PASSWORD") or None,
                host=params.get("HOST") or None,
                port=params.get("PORT") or None,
                connect_timeout=max(1, int(settings.REPLICA_CONNECT_TIMEOUT)),
                autocommit=True,
                **ssl,
            )
            _probe_connections[alias] = conn
        lag = float(conn.execute(LAG_SQL).fetchone()[0])
        return ReplicaStatus(True, lag, time.monotonic())
    except psycopg.Error:
        _close_probe(alias)
        return ReplicaStatus(False, None, time.monotonic())


def _close_probe(alias: str) -> None:
    conn = _probe_connections.pop(alias, None)
    if conn is not None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001,S110 - closing a dead connection
            pass


def replicas_report() -> dict:
    """For /health/ready/: each replica's reachability and lag, probed now."""
    return {alias: replica_status(alias, fresh=True).as_dict() for alias in replica_aliases()}


# --- The request boundary -------------------------------------------------------------


class ReplicaRoutingMiddleware:
    """Start each request's routing state; after a write, give the caller the signed pin."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _begin(self, request):
        allowed = request.method in SAFE_METHODS and bool(replica_aliases()) and not self._pinned(request)
        return begin(replica_allowed=allowed)

    @staticmethod
    def _pinned(request) -> bool:
        if PIN_COOKIE not in request.COOKIES:
            return False
        value = request.get_signed_cookie(
            PIN_COOKIE, default=None, salt=_PIN_SALT, max_age=settings.REPLICA_PIN_SECONDS
        )
        return value is not None

    @staticmethod
    def _finish(request, response):
        state = _route.get()
        if state is not None and state.wrote and replica_aliases() and response.status_code < 500:
            response.set_signed_cookie(
                PIN_COOKIE,
                "1",
                salt=_PIN_SALT,
                max_age=max(1, int(settings.REPLICA_PIN_SECONDS)),
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        token = self._begin(request)
        try:
            return self._finish(request, self.get_response(request))
        finally:
            end(token)

    async def __acall__(self, request):
        token = self._begin(request)
        try:
            return self._finish(request, await self.get_response(request))
        finally:
            end(token)
