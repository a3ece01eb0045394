from django.db import migrations

from clarity.dbtriggers import append_only, row_check


class Migration(migrations.Migration):
    """Twin revisions are append-only; a configuration is always a JSON object."""

    dependencies = [("twins", "0001_initial")]

    operations = [
        append_only("twins_twinrevision"),
        row_check(
            "twins_digitaltwin",
            "twins_digitaltwin_configuration_object",
            when_sqlite="json_type(NEW.configuration) IS NOT 'object'",
            when_postgresql="jsonb_typeof(NEW.configuration) IS DISTINCT FROM 'object'",
            message="twins_digitaltwin_configuration_object",
            columns="configuration",
        ),
    ]
