"""The audit trail's monthly partitions (PostgreSQL; see clarity/partitions.py)."""

import datetime

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from clarity.partitions import add_months, ensure_months, is_partitioned, month_start, partitions

TABLE = "audit_auditevent"
COLUMN = "occurred_at"
# Every monthly-partitioned table kept ahead by ensure_ahead(): the audit trail and the
# interaction log (whose API refuses an occurred_at beyond INTERACTION_MAX_FUTURE_DAYS,
# well inside the months kept ahead: it has no default partition).
PARTITIONED = ((TABLE, COLUMN), ("interactions_interactionlog", "occurred_at"))


def ensure_ahead(ahead: int | None = None, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Create this month's and the next `ahead` months' partitions. [] on SQLite."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    ahead = settings.AUDIT_PARTITIONS_AHEAD if ahead is None else ahead
    this_month = month_start(datetime.datetime.now(datetime.UTC))
    created = []
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for table, column in PARTITIONED:
            if is_partitioned(cursor, table):
                created += ensure_months(cursor, table, column, this_month, add_months(this_month, ahead))
    return created


def default_partition_rows(using: str = DEFAULT_DB_ALIAS) -> int:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        if not is_partitioned(cursor, TABLE):
            return 0
        cursor.execute(f"SELECT count(*) FROM {TABLE}_default")  # noqa: S608
        return cursor.fetchone()[0]


def audit_partitions(using: str = DEFAULT_DB_ALIAS):
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        return partitions(cursor, TABLE) if is_partitioned(cursor, TABLE) else []


def interaction_partitions(using: str = DEFAULT_DB_ALIAS):
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        table = PARTITIONED[1][0]
        return partitions(cursor, table) if is_partitioned(cursor, table) else []


def after_migrate(sender, using=DEFAULT_DB_ALIAS, plan=None, **kwargs):
    """post_migrate: keep AUDIT_PARTITIONS_AHEAD months ready after every `migrate`."""
    if connections[using].vendor == "postgresql" and getattr(sender, "label", "") == "audit":
        ensure_ahead(using=using)
