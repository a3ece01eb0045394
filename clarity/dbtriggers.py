"""Database-level guards that Django constraints cannot express, as migration operations.

Triggers are written once per vendor (SQLite and PostgreSQL) and created/dropped by
`vendor_sql()` operations in each app's migrations, so `migrate` to zero and back works on
both. They raise errors that both drivers report as IntegrityError (SQLite: RAISE(ABORT);
PostgreSQL: SQLSTATE 23xxx).
"""

from django.db import migrations


def vendor_sql(*, sqlite: list[str], postgresql: list[str], reverse_sqlite: list[str], reverse_postgresql: list[str]):
    """A reversible migration operation that runs the statements for the current vendor."""

    def run(statements_by_vendor):
        def apply(apps, schema_editor):
            vendor = schema_editor.connection.vendor
            if vendor not in statements_by_vendor:
                raise NotImplementedError(f"No trigger SQL for database vendor {vendor!r}")
            for statement in statements_by_vendor[vendor]:
                schema_editor.execute(statement, params=None)

        return apply

    return migrations.RunPython(
        run({"sqlite": sqlite, "postgresql": postgresql}),
        run({"sqlite": reverse_sqlite, "postgresql": reverse_postgresql}),
    )


def append_only_sql(table: str, *, sealable_columns: tuple[str, ...] = (), other_columns: tuple[str, ...] = ()) -> dict:
    """
    The statements that make `table` append-only, per vendor: {"sqlite": (create, drop),
    "postgresql": (create, drop)}. With `sealable_columns`, one UPDATE is allowed per row:
    the columns go from NULL to a value and every other column (`other_columns`,
    required for SQLite, which cannot compare whole rows) stays as it was.
    """
    message = f"{table} is append-only"
    if sealable_columns:
        first = sealable_columns[0]
        same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in other_columns)
        sqlite_update = (
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"WHEN NOT (OLD.{first} IS NULL AND NEW.{first} IS NOT NULL AND {same}) "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )
        strip = "".join(f" - '{c}'" for c in sealable_columns)
        pg_allow = (
            f"IF TG_OP = 'UPDATE' AND OLD.{first} IS NULL AND NEW.{first} IS NOT NULL "
            f"AND (to_jsonb(NEW){strip}) = (to_jsonb(OLD){strip}) THEN RETURN NEW; END IF;"
        )
    else:
        sqlite_update = (
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )
        pg_allow = ""
    return {
        "sqlite": (
            [
                sqlite_update,
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END",
            ],
            [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"],
        ),
        "postgresql": (
            [
                f"""CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {pg_allow}
                RAISE EXCEPTION '{message}' USING ERRCODE = '23000';
            END $$""",
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
            ],
            [
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
                f"DROP FUNCTION IF EXISTS {table}_append_only()",
            ],
        ),
    }


def append_only(table: str, **kwargs):
    """Migration operation: refuse UPDATE and DELETE on `table` (see append_only_sql)."""
    sql = append_only_sql(table, **kwargs)
    return vendor_sql(
        sqlite=sql["sqlite"][0],
        postgresql=sql["postgresql"][0],
        reverse_sqlite=sql["sqlite"][1],
        reverse_postgresql=sql["postgresql"][1],
    )


def row_check_sql(
    table: str, name: str, *, when_sqlite: str, when_postgresql: str, message: str, columns: str = ""
) -> dict:
    """
    Statements refusing an INSERT or UPDATE (of `columns`, comma-separated, or any column)
    whose new row makes `when_*` true, per vendor: {"sqlite": (create, drop), ...}. For
    rules a CHECK constraint cannot hold: ones that read other tables or the clock.
    """
    of = f" OF {columns}" if columns else ""
    sqlite = [
        f"CREATE TRIGGER {name}_{op.lower()} BEFORE {op}{of if op == 'UPDATE' else ''} ON {table} "
        f"WHEN {when_sqlite} BEGIN SELECT RAISE(ABORT, '{message}'); END"
        for op in ("INSERT", "UPDATE")
    ]
    return {
        "sqlite": (sqlite, [f"DROP TRIGGER IF EXISTS {name}_insert", f"DROP TRIGGER IF EXISTS {name}_update"]),
        "postgresql": (
            [
                f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF {when_postgresql} THEN
                    RAISE EXCEPTION '{message}' USING ERRCODE = '23514';
                END IF;
                RETURN NEW;
            END $$""",
                f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE{of} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()",
            ],
            [f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()"],
        ),
    }


def row_check(table: str, name: str, **kwargs):
    """Migration operation for row_check_sql()."""
    sql = row_check_sql(table, name, **kwargs)
    return vendor_sql(
        sqlite=sql["sqlite"][0],
        postgresql=sql["postgresql"][0],
        reverse_sqlite=sql["sqlite"][1],
        reverse_postgresql=sql["postgresql"][1],
    )


def restore_sqlite_triggers(*trigger_sql: dict):
    """
    SQLite rebuilds a table (dropping its triggers) for most ALTERs; put a migration's
    triggers back afterwards. PostgreSQL alters in place and keeps them.
    """
    return vendor_sql(
        sqlite=[statement for sql in trigger_sql for statement in sql["sqlite"][1] + sql["sqlite"][0]],
        postgresql=[],
        reverse_sqlite=[statement for sql in trigger_sql for statement in sql["sqlite"][1] + sql["sqlite"][0]],
        reverse_postgresql=[],
    )
