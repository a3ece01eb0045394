"""Least-privilege PostgreSQL roles for Clarity (HIPAA §164.312(a) access control).

    python manage.py create_db_roles [--app-role clarity_app] [--migrator-role clarity_migrator]

Run it as a superuser (or the database owner) after `migrate`; it is idempotent, so run
it again after every migration that adds tables. It makes:

* the migrator role, which owns the schema and every table: run `migrate`,
  `purge_patient` and `rotate_phi_keys`-style maintenance as this role;
* the app role, which the API server uses: DML only, no DDL, no TRUNCATE anywhere, and
  on the append-only tables (audit events, interaction log, twin revisions) only
  SELECT and INSERT — plus UPDATE of the three audit seal columns, which the append-only
  trigger still limits to one NULL → value write per row.

Passwords are not set here; set them with ALTER ROLE ... PASSWORD or use certificates.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

APPEND_ONLY_TABLES = ("audit_auditevent", "interactions_interactionlog", "twins_twinrevision")
SEAL_COLUMNS = ("chain_seq", "prev_hash", "hash")


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise CommandError("Role names may contain only letters, digits and underscores.")
    return '"' + name + '"'


class Command(BaseCommand):
    help = "Create or refresh the least-privilege PostgreSQL roles (migrator owns the schema; app has DML only)."

    def add_arguments(self, parser):
        parser.add_argument("--app-role", default="clarity_app")
        parser.add_argument("--migrator-role", default="clarity_migrator")
        parser.add_argument("--schema", default="public")

    def handle(self, *args, app_role, migrator_role, schema, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Database roles exist only on PostgreSQL.")
        app, migrator, schema_q = _ident(app_role), _ident(migrator_role), _ident(schema)
        with transaction.atomic(), connection.cursor() as cursor:
            for role in (app_role, migrator_role):
                cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
                if cursor.fetchone() is None:
                    cursor.execute(f"CREATE ROLE {_ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
            cursor.execute("SELECT current_database()")
            database = _ident(cursor.fetchone()[0])
            cursor.execute(f"GRANT CONNECT ON DATABASE {database} TO {app}, {migrator}")
            cursor.execute(f"GRANT USAGE, CREATE ON SCHEMA {schema_q} TO {migrator}")
            cursor.execute(f"REVOKE CREATE ON SCHEMA {schema_q} FROM {app}")
            cursor.execute(f"REVOKE CREATE ON SCHEMA {schema_q} FROM PUBLIC")
            cursor.execute(f"GRANT USAGE ON SCHEMA {schema_q} TO {app}")
            cursor.execute(
                "SELECT c.relname, c.relispartition FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
                [schema],
            )
            tables = cursor.fetchall()
            for table, is_partition in tables:
                table_q = f"{schema_q}.{_ident(table)}"
                cursor.execute(f"ALTER TABLE {table_q} OWNER TO {migrator}")
                cursor.execute(f"REVOKE ALL ON {table_q} FROM {app}")
                if is_partition:
                    continue  # a monthly partition: the app reaches it only through its parent's grants
                if table in APPEND_ONLY_TABLES:
                    cursor.execute(f"GRANT SELECT, INSERT ON {table_q} TO {app}")
                    if table == "audit_auditevent":
                        columns = ", ".join(SEAL_COLUMNS)
                        cursor.execute(f"GRANT UPDATE ({columns}) ON {table_q} TO {app}")
                else:
                    cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table_q} TO {app}")
            cursor.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = %s", [schema])
            for (sequence,) in cursor.fetchall():
                sequence_q = f"{schema_q}.{_ident(sequence)}"
                cursor.execute(f"ALTER SEQUENCE {sequence_q} OWNER TO {migrator}")
                cursor.execute(f"GRANT USAGE, SELECT ON SEQUENCE {sequence_q} TO {app}")
            # Trigger functions run with the invoker's rights; the app may execute them.
            cursor.execute(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s",
                [schema],
            )
            for (function,) in cursor.fetchall():
                cursor.execute(f"ALTER FUNCTION {schema_q}.{_ident(function)}() OWNER TO {migrator}")
        self.stdout.write(
            self.style.SUCCESS(f"roles ready: {migrator_role} owns {len(tables)} tables; {app_role} has DML only")
        )
