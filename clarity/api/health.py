"""Liveness and readiness probes (no auth, plain Django async views, no audit)."""

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse

from clarity.replicas import replica_aliases, replicas_report


async def live(request):
    return JsonResponse({"status": "ok"})


def _readiness() -> tuple[int, dict]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        return 503, {"status": "unavailable", "database": "unreachable"}
    if pending:
        return 503, {"status": "unavailable", "database": "ok", "migrations": "pending"}
    body = {"status": "ok", "database": "ok", "migrations": "applied"}
    if replica_aliases():
        # A replica down or lagging does not make the service unready: reads fall back to
        # the primary. Reported so operators see it.
        body["replicas"] = replicas_report()
    return 200, body


async def ready(request):
    status, body = await sync_to_async(_readiness)()
    response = JsonResponse(body, status=status)
    if status == 503:
        response["Retry-After"] = "5"
    return response
