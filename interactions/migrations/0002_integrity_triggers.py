from django.db import migrations

from clarity.dbtriggers import append_only, row_check


class Migration(migrations.Migration):
    """The interaction log is append-only; a row's twin is its patient's; payloads are small objects."""

    dependencies = [("interactions", "0001_initial"), ("twins", "0001_initial")]

    operations = [
        append_only("interactions_interactionlog"),
        row_check(
            "interactions_interactionlog",
            "interactions_interactionlog_twin_same_patient",
            when_sqlite=(
                "NEW.twin_id IS NOT NULL AND "
                "(SELECT patient_id FROM twins_digitaltwin WHERE id = NEW.twin_id) IS NOT NEW.patient_id"
            ),
            when_postgresql=(
                "NEW.twin_id IS NOT NULL AND "
                "(SELECT patient_id FROM twins_digitaltwin WHERE id = NEW.twin_id) IS DISTINCT FROM NEW.patient_id"
            ),
            message="interactions_interactionlog_twin_same_patient",
        ),
        row_check(
            "interactions_interactionlog",
            "interactions_interactionlog_payload_object",
            when_sqlite="json_type(NEW.payload) IS NOT 'object' OR length(CAST(NEW.payload AS BLOB)) > 65536",
            when_postgresql="jsonb_typeof(NEW.payload) IS DISTINCT FROM 'object' OR octet_length(NEW.payload::text) > 65536",
            message="interactions_interactionlog_payload_object",
        ),
    ]
