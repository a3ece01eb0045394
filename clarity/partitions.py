"""Monthly range partitions on PostgreSQL (native declarative partitioning).

Used for the audit trail (`audit_auditevent`, by `occurred_at`) and the interaction log.
`convert_to_monthly_partitions()` is the migration step that turns an existing table
into a partitioned one, keeping its rows, indexes, constraints and triggers;
`ensure_months()` creates the months ahead (`manage.py audit_partitions --ahead N`, and
after every `migrate`). Each table also has a DEFAULT partition, so an insert never fails
for lack of a month; `ensure_months()` moves rows out of it when their month is created.
SQLite keeps one plain table: everything here is a no-op there.
"""

import datetime
import re
from dataclasses import dataclass

UTC = datetime.UTC
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def _ident(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return name


def month_start(day: datetime.date | datetime.datetime) -> datetime.date:
    return datetime.date(day.year, day.month, 1)


def add_months(month: datetime.date, n: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 + n
    return datetime.date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: datetime.date) -> str:
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def _bound(month: datetime.date) -> str:
    return f"{month.isoformat()} 00:00:00+00"


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime.date | None  # None: the DEFAULT partition
    end: datetime.date | None


def partitions(cursor, table: str) -> list[Partition]:
    """The partitions of `table`, months in order, the default partition last."""
    cursor.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        [table],
    )
    months, default = [], []
    for name, bound in cursor.fetchall():
        if bound == "DEFAULT":
            default.append(Partition(name, None, None))
            continue
        found = re.findall(r"'(\d{4}-\d{2}-\d{2})", bound)
        start, end = (datetime.date.fromisoformat(value) for value in found[:2])
        months.append(Partition(name, start, end))
    return sorted(months, key=lambda p: p.start) + default


def is_partitioned(cursor, table: str) -> bool:
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
    row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def ensure_months(cursor, table: str, column: str, first: datetime.date, last: datetime.date) -> list[str]:
    """Create every missing month partition from `first` to `last` (inclusive). Returns the new ones."""
    table, column = _ident(table), _ident(column)
    existing = {p.start for p in partitions(cursor, table) if p.start}
    default = f"{table}_default"
    created = []
    month = month_start(first)
    while month <= last:
        if month not in existing:
            name = partition_name(table, month)
            nxt = add_months(month, 1)
            cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {column} >= %s AND {column} < %s)",  # noqa: S608
                [_bound(month), _bound(nxt)],
            )
            if cursor.fetchone()[0]:
                _create_moving_rows_from_default(cursor, table, column, name, month, nxt)
            else:
                cursor.execute(
                    f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ('{_bound(month)}') TO ('{_bound(nxt)}')"
                )
            created.append(name)
        month = add_months(month, 1)
    return created


def _create_moving_rows_from_default(cursor, table, column, name, month, nxt):
    """
    A month whose rows went to the default partition (its partition was not created in
    time): PostgreSQL refuses to create it while the default holds rows of its range, so
    detach the default, move those rows into a new standalone table, attach both back.
    The rows are moved as they are (seals included); the append-only trigger of the
    detached default is disabled only for the move. Needs the table owner's rights.
    """
    default = f"{table}_default"
    lower, upper = _bound(month), _bound(nxt)
    where = f"{column} >= '{lower}' AND {column} < '{upper}'"
    cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {default}")
    cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(f"INSERT INTO {name} SELECT * FROM {default} WHERE {where}")  # noqa: S608
    cursor.execute(f"ALTER TABLE {default} DISABLE TRIGGER USER")
    cursor.execute(f"DELETE FROM {default} WHERE {where}")  # noqa: S608
    cursor.execute(f"ALTER TABLE {default} ENABLE TRIGGER USER")
    cursor.execute(f"ALTER TABLE {name} ADD CONSTRAINT {name}_range CHECK ({where})")
    cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{lower}') TO ('{upper}')")
    cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range")
    cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {default} DEFAULT")


def convert_to_monthly_partitions(
    cursor, table: str, column: str, *, primary_key: tuple[str, ...], drop_constraints=(), demote_unique_indexes=(), ahead: int = 3
) -> None:
    """
    Migration step: replace `table` with a table partitioned by month on `column`, same
    columns, rows, indexes, foreign keys, checks and triggers (re-created by name). The
    primary key becomes `primary_key` (it must include `column`); `drop_constraints`
    (unique constraints that cannot include the partition key) are not carried over, and
    the unique indexes named in `demote_unique_indexes` come back as plain indexes.
    """
    table, column = _ident(table), _ident(column)
    old = f"{table}_unpartitioned"
    cursor.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s"
        " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        [table, table],
    )
    indexes = [row[0] for row in cursor.fetchall()]
    for name in demote_unique_indexes:
        indexes = [d.replace("CREATE UNIQUE INDEX", "CREATE INDEX", 1) if f" {name} ON " in d else d for d in indexes]
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('f', 'u')",
        [table],
    )
    keys = [(name, definition) for name, definition in cursor.fetchall() if name not in drop_constraints]
    cursor.execute(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [table]
    )
    triggers = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "SELECT pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM " + table + ")",  # noqa: S608
        [table],
    )
    _sequence, max_id = cursor.fetchone()
    cursor.execute(f"SELECT min({column}) FROM {table}")  # noqa: S608
    oldest = cursor.fetchone()[0]

    cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
    cursor.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {table}_pkey TO {old}_pkey")
    cursor.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY,"
        f" CONSTRAINT {table}_pkey PRIMARY KEY ({', '.join(_ident(c) for c in primary_key)}))"
        f" PARTITION BY RANGE ({column})"
    )
    cursor.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    today = datetime.datetime.now(UTC).date()
    ensure_months(
        cursor,
        table,
        column,
        month_start(oldest) if oldest else month_start(today),
        add_months(month_start(today), ahead),
    )
    cursor.execute(f"INSERT INTO {table} OVERRIDING SYSTEM VALUE SELECT * FROM {old}")  # noqa: S608
    if max_id is not None:
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [max_id])
    cursor.execute(f"DROP TABLE {old}")
    for definition in indexes:
        cursor.execute(definition)
    for name, definition in keys:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for definition in triggers:
        cursor.execute(definition)
