from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clarity.api.fields import AwareDateTimeField, StrictFieldsMixin
from patients.serializers import CareTeamMemberSerializer, PatientSerializer
from twins.models import DigitalTwin, TwinRevision

from .models import InteractionLog, Kind
from .payloads import validate_payload

MAX_BATCH = 1000


@extend_schema_field({"type": "object", "description": "At most 64 KiB of JSON; rules by kind in DOMAIN.md."})
class PayloadField(serializers.JSONField):
    """Any JSON here; `validate_payload` applies the per-kind rules."""


class InteractionSerializer(serializers.ModelSerializer):
    """The interaction representation of API.md."""

    patient = serializers.UUIDField(source="patient_id", read_only=True)
    twin = serializers.UUIDField(source="twin_id", read_only=True, allow_null=True)
    actor = serializers.UUIDField(source="actor_id", read_only=True, allow_null=True)
    payload = PayloadField(read_only=True)

    class Meta:
        model = InteractionLog
        fields = ["id", "patient", "twin", "actor", "kind", "payload", "occurred_at", "recorded_at"]
        read_only_fields = fields


class InteractionCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    """One item of a POST body. Errors on the payload are keyed `payload.<key>`."""

    kind = serializers.ChoiceField(choices=Kind.choices)
    payload = PayloadField()
    occurred_at = AwareDateTimeField()
    twin = serializers.UUIDField(required=False, allow_null=True, help_text="One of this patient's twins.")

    def validate(self, attrs):
        errors = validate_payload(attrs["kind"], attrs["payload"])
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ExportTwinRevisionSerializer(serializers.ModelSerializer):
    """A twin revision as the revisions API shows it."""

    changed_by = serializers.UUIDField(source="changed_by_id", read_only=True, allow_null=True)

    class Meta:
        model = TwinRevision
        fields = ["version", "configuration", "changed_by", "changed_at"]
        read_only_fields = fields


class ExportTwinSerializer(serializers.ModelSerializer):
    """A twin as the twins API shows it, plus its revisions, newest first."""

    patient = serializers.UUIDField(source="patient_id", read_only=True)
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)
    revisions = ExportTwinRevisionSerializer(many=True, read_only=True)

    class Meta:
        model = DigitalTwin
        fields = [
            "id",
            "patient",
            "name",
            "twin_type",
            "status",
            "configuration",
            "state",
            "version",
            "created_by",
            "created_at",
            "updated_at",
            "revisions",
        ]
        read_only_fields = fields


class PatientExportSerializer(serializers.Serializer):
    """The export document (documentation only: the view streams it, see export.py)."""

    patient = PatientSerializer()
    care_team = CareTeamMemberSerializer(many=True)
    twins = ExportTwinSerializer(many=True)
    interactions = InteractionSerializer(many=True)
    exported_at = serializers.DateTimeField()
