"""
Django's PostgreSQL backend (ENGINE "clarity.postgres"; settings swaps it in for every
postgres:// URL) with one change: how a pooled connection is checked when a request
takes it.

Django has psycopg_pool check each connection it hands out (CONN_HEALTH_CHECKS) with an
empty query, and psycopg_pool sleeps after every connection that fails its check: about
1 s after the first, 2 s after the second. After the network dropped (a failover, a
restarted proxy) every idle connection in the pool is dead, so the first request of each
server process met two of them and waited out DATABASE_POOL_TIMEOUT (3 s) for a 503 while
the database was back (the database-outage reliability test found it). Here a dead
connection is thrown away and the next one taken at once: the pool reconnects in the
background, and a request still waits no longer than the pool's timeout when the database
is really gone.

The check itself reads the socket instead of asking the server: a connection at rest in
the pool has nothing to read unless the server closed it or spoke on its own (a FATAL
when an administrator or idle_session_timeout ended it, a reset from the network), and
only then is it asked with the empty query. That saves a round trip on every request.
A connection that dies silently (no reset reaches us) is not found by either check: the
statement timeout and the kernel's TCP timeouts are what end that.
"""

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool


def pooled_connection_usable(connection) -> bool:
    """Whether a connection taken from the pool can run a statement (see the module docstring)."""
    if connection.closed or connection.broken:
        return False
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
    if not poller.poll(0):
        return True  # nothing has arrived since the connection was last used
    try:
        ConnectionPool.check_connection(connection)
    except psycopg.Error:
        return False
    return True


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        pool = self.pool
        if pool is None:
            return super().get_new_connection(conn_params)
        # Each turn takes a different connection from the pool; at most every idle one is dead.
        for _ in range(pool.max_size + 1):
            connection = super().get_new_connection(conn_params)
            if pooled_connection_usable(connection):
                return connection
            connection.close()
            pool.putconn(connection)  # a closed connection: the pool discards it and connects anew
        raise psycopg.OperationalError("no usable connection in the pool")
