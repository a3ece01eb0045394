import datetime

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clarity.api.fields import AwareDateTimeField, StrictFieldsMixin
from clarity.formats import utc
from patients.serializers import CareTeamMemberSerializer, PatientSerializer
from twins.models import DigitalTwin
from twins.serializers import (
    TwinRevisionSerializer,
    TwinSerializer,
    twin_representation,
    twin_revision_representation,
)

from .models import InteractionLog, Kind
from .payloads import validate_payload

MAX_BATCH = 1000
# The accepted occurred_at window. On PostgreSQL every instant in it has a partition
# (docs/scaling.md): the historic partition below, months kept ahead above.
EARLIEST_OCCURRED_AT = datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC)


@extend_schema_field({"type": "object", "description": "At most 64 KiB of JSON; rules by kind in docs/domain.md."})
class PayloadField(serializers.JSONField):
    """Any JSON here; `validate_payload` applies the per-kind rules."""

    def to_internal_value(self, data):
        # The value was parsed from the JSON body, so it is JSON: DRF's JSONField would
        # encode it once more to prove that, and validate_payload already encodes it to
        # measure it (two encodings per item were ~10 % of a 100-item batch's validation).
        return data


class InteractionSerializer(serializers.ModelSerializer):
    """The interaction representation of docs/api.md."""

    patient = serializers.UUIDField(source="patient_id", read_only=True)
    twin = serializers.UUIDField(source="twin_id", read_only=True, allow_null=True)
    actor = serializers.UUIDField(source="actor_id", read_only=True, allow_null=True)
    payload = PayloadField(read_only=True)

    class Meta:
        model = InteractionLog
        fields = ["id", "patient", "twin", "actor", "kind", "payload", "occurred_at", "recorded_at"]
        read_only_fields = fields


def interaction_representation(row: InteractionLog) -> dict:
    """
    The interaction of docs/api.md, for every endpoint that returns one: create (and so the
    body an Idempotency-Key replays), and the list and the export, which pass their rows as
    `LogRow`s (interactions/selectors.py). Built directly: a page of 50 spent ~2 ms in DRF's per-field machinery for
    eight plain attributes. InteractionSerializer documents it (a test keeps the two identical).
    Ids stay UUIDs and timestamps datetimes in UTC, as every representation holds them: the
    renderer's orjson writes both (clarity/formats.py).
    """
    return {
        "id": row.id,
        "patient": row.patient_id,
        "twin": row.twin_id,
        "actor": row.actor_id,
        "kind": row.kind,
        "payload": row.payload,
        "occurred_at": utc(row.occurred_at),
        "recorded_at": utc(row.recorded_at),
    }


class InteractionCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    """One item of a POST body. Errors on the payload are keyed `payload.<key>`."""

    kind = serializers.ChoiceField(choices=Kind.choices)
    payload = PayloadField()
    occurred_at = AwareDateTimeField(
        help_text="Not before 1900-01-01T00:00:00Z, at most INTERACTION_MAX_FUTURE_DAYS (default 1) days ahead."
    )
    twin = serializers.UUIDField(required=False, allow_null=True, help_text="One of this patient's twins.")

    def validate_occurred_at(self, value):
        if value < EARLIEST_OCCURRED_AT:
            raise serializers.ValidationError("Must not be before 1900-01-01T00:00:00Z.")
        days = settings.INTERACTION_MAX_FUTURE_DAYS
        if value > self._latest_accepted(days):
            raise serializers.ValidationError(f"Must not be more than {days} day(s) in the future.")
        return value

    def _latest_accepted(self, days: int) -> datetime.datetime:
        # One clock reading per request: a batch's items share this serializer (many=True).
        if getattr(self, "_latest", None) is None:
            self._latest = timezone.now() + datetime.timedelta(days=days)
        return self._latest

    def validate(self, attrs):
        errors = validate_payload(attrs["kind"], attrs["payload"])
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def export_twin_representation(twin: DigitalTwin) -> dict:
    """A twin in the export: its representation, plus its revisions newest first (prefetched)."""
    return {
        **twin_representation(twin),
        "revisions": [twin_revision_representation(revision) for revision in twin.revisions.all()],
    }


class ExportTwinSerializer(TwinSerializer):
    """A twin as the twins API shows it, plus its revisions as the revisions API shows them."""

    revisions = TwinRevisionSerializer(many=True, read_only=True)

    class Meta(TwinSerializer.Meta):
        fields = [*TwinSerializer.Meta.fields, "revisions"]
        read_only_fields = fields


class PatientExportSerializer(serializers.Serializer):
    """The export document (documentation only: the view streams it, see export.py)."""

    patient = PatientSerializer()
    care_team = CareTeamMemberSerializer(many=True)
    twins = ExportTwinSerializer(many=True)
    interactions = InteractionSerializer(many=True)
    exported_at = serializers.DateTimeField()
