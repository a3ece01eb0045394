"""Monthly range partitions on PostgreSQL (native declarative partitioning).

Used for the audit trail (`audit_auditevent`, by `occurred_at`) and the interaction log.
`convert_to_monthly_partitions()` is the migration step that turns an existing table
into a partitioned one, keeping its rows, indexes, constraints and triggers;
`ensure_months()` creates the months ahead (`manage.py audit_partitions --ahead N`, and
after every `migrate`). The audit table has a DEFAULT partition, so an insert never fails
for lack of a month; `ensure_months()` moves rows out of it when their month is created.
The interaction log has none (a default partition rules out PostgreSQL's ordered Append,
which its newest-first page relies on): a "historic" partition from MINVALUE takes every
old row, and the API refuses timestamps beyond the months kept ahead (docs/scaling.md).
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
    start: datetime.date | None  # None: the DEFAULT partition; date.min: FROM (MINVALUE)
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
        found = [datetime.date.fromisoformat(value) for value in re.findall(r"'(\d{4}-\d{2}-\d{2})", bound)]
        if "MINVALUE" in bound:
            found.insert(0, datetime.date.min)
        months.append(Partition(name, found[0], found[1]))
    return sorted(months, key=lambda p: p.start) + default


def is_partitioned(cursor, table: str) -> bool:
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
    row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def ensure_months(cursor, table: str, column: str, first: datetime.date, last: datetime.date) -> list[str]:
    """Create every missing month partition from `first` to `last` (inclusive). Returns the new ones."""
    table, column = _ident(table), _ident(column)
    present = partitions(cursor, table)
    existing = {p.start for p in present if p.start}
    # Months below a historic (MINVALUE) partition's upper bound already have a home.
    covered = max((p.end for p in present if p.start == datetime.date.min), default=datetime.date.min)
    has_default = any(p.start is None for p in present)
    default = f"{table}_default"
    created = []
    month = max(month_start(first), covered)
    while month <= last:
        if month not in existing:
            name = partition_name(table, month)
            nxt = add_months(month, 1)
            if not has_default:
                cursor.execute(
                    f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ('{_bound(month)}') TO ('{_bound(nxt)}')"
                )
                created.append(name)
                month = nxt
                continue
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
    cursor,
    table: str,
    column: str,
    *,
    primary_key: tuple[str, ...],
    drop_constraints=(),
    demote_unique_indexes=(),
    ahead: int = 3,
    historic_before: datetime.date | None = None,
) -> None:
    """
    Migration step: replace `table` with a table partitioned by month on `column`, same
    columns, rows, indexes, foreign keys, checks and triggers (re-created by name). The
    primary key becomes `primary_key` (it must include `column`); `drop_constraints`
    (unique constraints that cannot include the partition key) are not carried over, and
    the unique indexes named in `demote_unique_indexes` come back as plain indexes.
    Without `historic_before` the table gets a DEFAULT partition; with it, one
    `<table>_historic` partition FROM (MINVALUE) TO that month instead, and no default,
    so the planner can walk the partitions in order (ordered Append).
    """
    table, column = _ident(table), _ident(column)
    old = f"{table}_unpartitioned"
    indexes, keys, triggers = _table_shape(cursor, table)
    for name in demote_unique_indexes:
        indexes = [d.replace("CREATE UNIQUE INDEX", "CREATE INDEX", 1) if f" {name} ON " in d else d for d in indexes]
    keys = [(name, definition) for name, definition in keys if name not in drop_constraints]
    cursor.execute(
        "SELECT pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM " + table + ")",  # noqa: S608
        [table],
    )
    _sequence, max_id = cursor.fetchone()
    cursor.execute(f"SELECT min({column}), max({column}) FROM {table}")  # noqa: S608
    oldest, newest = cursor.fetchone()

    cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
    cursor.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {table}_pkey TO {old}_pkey")
    cursor.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY,"
        f" CONSTRAINT {table}_pkey PRIMARY KEY ({', '.join(_ident(c) for c in primary_key)}))"
        f" PARTITION BY RANGE ({column})"
    )
    today = datetime.datetime.now(UTC).date()
    last = add_months(month_start(today), ahead)
    if newest is not None:
        last = max(last, month_start(newest))  # rows already in the future keep a home
    if historic_before is None:
        cursor.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        first = month_start(oldest) if oldest else month_start(today)
    else:
        first = month_start(historic_before)
        cursor.execute(
            f"CREATE TABLE {table}_historic PARTITION OF {table} FOR VALUES FROM (MINVALUE) TO ('{_bound(first)}')"
        )
    ensure_months(cursor, table, column, first, last)
    _refill(cursor, table, old, max_id, indexes, keys, triggers)


def _table_shape(cursor, table: str):
    """What a rebuilt `table` must get back: its index definitions (those not backing a
    constraint), its foreign-key and unique constraints, and its user triggers."""
    cursor.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s"
        " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        [table, table],
    )
    indexes = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('f', 'u')",
        [table],
    )
    keys = cursor.fetchall()
    cursor.execute(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [table]
    )
    triggers = [row[0] for row in cursor.fetchall()]
    return indexes, keys, triggers


def _refill(cursor, table: str, old: str, max_id, indexes, keys, triggers) -> None:
    """Move the rows of `old` into the rebuilt `table`, keep its id sequence ahead of them,
    drop `old`, then re-create the indexes, constraints and triggers `_table_shape` read."""
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


def index_names(cursor, index: str) -> set[str]:
    """`index` and, on a partitioned table, the per-partition indexes attached to it."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
        [index],
    )
    return {index} | {row[0] for row in cursor.fetchall()}


def convert_to_plain_table(cursor, table: str, *, primary_key: tuple[str, ...] = ("id",)) -> None:
    """
    The reverse of convert_to_monthly_partitions() (for migrating back): one plain table
    again, same rows, indexes, foreign keys, checks and triggers, primary key `primary_key`.
    """
    table = _ident(table)
    old = f"{table}_partitioned"
    indexes, keys, triggers = _table_shape(cursor, table)
    cursor.execute(f"SELECT max(id) FROM {table}")  # noqa: S608
    max_id = cursor.fetchone()[0]

    cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
    cursor.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {table}_pkey TO {old}_pkey")
    cursor.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY,"
        f" CONSTRAINT {table}_pkey PRIMARY KEY ({', '.join(_ident(c) for c in primary_key)}))"
    )
    _refill(cursor, table, old, max_id, indexes, keys, triggers)
