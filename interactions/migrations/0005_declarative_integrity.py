"""PostgreSQL: the row-level integrity triggers become declarative constraints, and the
single-column indexes that duplicate a composite index's leading column go (issue #12).

A batch of 100 interactions spent ~10 ms in PostgreSQL against ~2 ms for the same rows
in a plain table: two PL/pgSQL functions ran per row (payload shape, twin of the same
patient) and seven indexes were updated per row. Now:

- payload shape is a CHECK constraint (`jsonb_typeof`, `octet_length`), evaluated inline;
- "the twin is the patient's" is a composite foreign key (twin_id, patient_id) →
  twins_digitaltwin (id, patient_id), backed by a unique (id, patient_id) there; NULL
  twins are not checked (MATCH SIMPLE), as before;
- the indexes on patient_id and twin_id alone go: interactions_patient_recent and
  interactions_twin_recent lead with those columns and serve the same lookups (the
  PROTECT checks on delete, the per-patient and per-twin reads).

Both keep the trigger names as constraint names, so errors read as before. SQLite (the
development database) keeps its triggers: its ALTER TABLE cannot add either constraint
without rebuilding the table, and the triggers cost nothing that matters there.
"""

from django.db import migrations, models

TABLE = "interactions_interactionlog"
PAYLOAD = "interactions_interactionlog_payload_object"
TWIN = "interactions_interactionlog_twin_same_patient"
TWIN_KEY = "twins_digitaltwin_id_patient_unique"

FORWARD = [
    f"DROP TRIGGER IF EXISTS {PAYLOAD} ON {TABLE}",
    f"DROP FUNCTION IF EXISTS {PAYLOAD}()",
    f"DROP TRIGGER IF EXISTS {TWIN} ON {TABLE}",
    f"DROP FUNCTION IF EXISTS {TWIN}()",
    f"ALTER TABLE {TABLE} ADD CONSTRAINT {PAYLOAD}"
    " CHECK (jsonb_typeof(payload) = 'object' AND octet_length(payload::text) <= 65536)",
    f"ALTER TABLE twins_digitaltwin ADD CONSTRAINT {TWIN_KEY} UNIQUE (id, patient_id)",
    f"ALTER TABLE {TABLE} ADD CONSTRAINT {TWIN}"
    " FOREIGN KEY (twin_id, patient_id) REFERENCES twins_digitaltwin (id, patient_id)",
]


def _single_column_indexes(cursor, columns):
    """Django's names for the plain (non-unique, non-FK) indexes on exactly one of `columns`."""
    from django.db import connection

    constraints = connection.introspection.get_constraints(cursor, TABLE)
    return [
        name
        for name, info in constraints.items()
        if info["index"]
        and not (info["unique"] or info["primary_key"] or info["foreign_key"])
        and info["columns"] in ([column] for column in columns)
    ]


def forward(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for name in _single_column_indexes(cursor, ("patient_id", "twin_id")):
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
    if connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    from clarity.dbtriggers import row_check_sql

    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        for statement in (
            f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {TWIN}",
            f"ALTER TABLE twins_digitaltwin DROP CONSTRAINT IF EXISTS {TWIN_KEY}",
            f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {PAYLOAD}",
        ):
            schema_editor.execute(statement)
        for sql in (
            row_check_sql(
                TABLE,
                TWIN,
                when_sqlite="",
                when_postgresql=(
                    "NEW.twin_id IS NOT NULL AND "
                    "(SELECT patient_id FROM twins_digitaltwin WHERE id = NEW.twin_id) IS DISTINCT FROM NEW.patient_id"
                ),
                message=TWIN,
            ),
            row_check_sql(
                TABLE,
                PAYLOAD,
                when_sqlite="",
                when_postgresql=(
                    "jsonb_typeof(NEW.payload) IS DISTINCT FROM 'object' OR octet_length(NEW.payload::text) > 65536"
                ),
                message=PAYLOAD,
            ),
        ):
            for statement in sql["postgresql"][0]:
                schema_editor.execute(statement)
    for column in ("patient_id", "twin_id"):
        name = schema_editor._create_index_name(TABLE, [column])
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON {TABLE} ("{column}")')


class Migration(migrations.Migration):
    dependencies = [
        ("interactions", "0004_partition_interactions_by_month"),
        ("twins", "0003_allow_empty_configuration"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="interactionlog",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.PROTECT,
                        related_name="interactions",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="interactionlog",
                    name="twin",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.PROTECT,
                        related_name="interactions",
                        to="twins.digitaltwin",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
    ]
