"""Migrations are reversible, and the database guards come back with them."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from interactions.models import InteractionLog
from interactions.tests.factories import InteractionLogFactory

EXPECTED_TRIGGER_TABLES = {
    "audit_auditevent",
    "interactions_interactionlog",
    "patients_careteammembership",
    "patients_patient",
    "twins_digitaltwin",
    "twins_twinrevision",
}


class _Rollback(Exception):
    pass


def triggers():
    """(table, trigger name) for every trigger in the database."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND t.tgparentid = 0"  # not a partition's clone of its parent's
            )
        return set(cursor.fetchall())


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets(executor.loader.graph))


@pytest.mark.django_db
def test_every_guarded_table_has_its_triggers():
    # A later migration that rebuilds a table on SQLite (most AlterFields do) drops its triggers.
    assert {table for table, _ in triggers()} == EXPECTED_TRIGGER_TABLES


@pytest.mark.django_db(transaction=True)
def test_migrating_to_zero_and_back_restores_tables_and_triggers():
    before = triggers()

    migrate(lambda graph: [(app, None) for app in sorted({app for app, _ in graph.leaf_nodes()})])
    assert triggers() == set()
    migrate(lambda graph: graph.leaf_nodes())

    assert triggers() == before
    # The guard really works again. Everything is rolled back, so the flush that ends a
    # transactional test does not meet rows the append-only triggers refuse to DELETE.
    with pytest.raises(_Rollback), transaction.atomic():
        log = InteractionLogFactory()
        with pytest.raises(IntegrityError, match="interactions_interactionlog is append-only"), transaction.atomic():
            InteractionLog.objects.filter(pk=log.pk).update(kind="alert")
        raise _Rollback
    assert not InteractionLog.objects.exists()
