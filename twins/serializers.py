from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clarity.api.fields import StrictFieldsMixin
from clarity.formats import utc

from .configuration import ALERT_THRESHOLDS, DATA_SOURCES, PREDICTION_MODELS
from .models import DigitalTwin, TwinRevision, TwinStatus, TwinType


def _threshold_schema(low, high):
    schema = {"type": "number", "minimum": low}
    if high is not None:
        schema["maximum"] = high
    return schema


# The configuration schema of docs/domain.md, for the OpenAPI document. The rules themselves
# live in `twins.configuration.validate_configuration`, which the services apply.
CONFIGURATION_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "simulation_granularity_hours": {"type": "integer", "minimum": 1, "maximum": 168},
        "prediction_models_enabled": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "enum": list(PREDICTION_MODELS)},
        },
        "data_sources_enabled": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "enum": list(DATA_SOURCES)},
        },
        "alert_thresholds": {
            "type": "object",
            "additionalProperties": False,
            "properties": {key: _threshold_schema(*bounds) for key, bounds in ALERT_THRESHOLDS.items()},
        },
    },
}


@extend_schema_field(CONFIGURATION_SCHEMA)
class ConfigurationField(serializers.JSONField):
    """A twin configuration: any JSON here; its schema is checked by the service."""


@extend_schema_field(
    {"nullable": True, "description": "The latest computed state, written by the modelling engine: any JSON, or null."}
)
class StateField(serializers.JSONField):
    pass


class TwinSerializer(serializers.ModelSerializer):
    """The twin representation of docs/api.md."""

    patient = serializers.UUIDField(source="patient_id", read_only=True)
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)
    configuration = ConfigurationField(read_only=True)
    state = StateField(read_only=True, allow_null=True)

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
        ]
        read_only_fields = fields


class TwinRevisionSerializer(serializers.ModelSerializer):
    changed_by = serializers.UUIDField(source="changed_by_id", read_only=True, allow_null=True)
    configuration = ConfigurationField(read_only=True)

    class Meta:
        model = TwinRevision
        fields = ["version", "configuration", "changed_by", "changed_at"]
        read_only_fields = fields


def twin_representation(twin: DigitalTwin) -> dict:
    """
    The twin of docs/api.md, for every endpoint that returns one (detail, list, create,
    update, export); TwinSerializer documents it (a test keeps the two identical).
    """
    return {
        "id": twin.id,
        "patient": twin.patient_id,
        "name": twin.name,
        "twin_type": twin.twin_type,
        "status": twin.status,
        "configuration": twin.configuration,
        "state": twin.state,
        "version": twin.version,
        "created_by": twin.created_by_id,
        "created_at": utc(twin.created_at),
        "updated_at": utc(twin.updated_at),
    }


def twin_revision_representation(revision: TwinRevision) -> dict:
    """A twin revision (revision list, export); TwinRevisionSerializer documents it."""
    return {
        "version": revision.version,
        "configuration": revision.configuration,
        "changed_by": revision.changed_by_id,
        "changed_at": utc(revision.changed_at),
    }


class TwinCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    """Body of POST /patients/{id}/twins/. `configuration` defaults to `{}`; unknown fields → 400."""

    name = serializers.CharField(max_length=200)
    twin_type = serializers.ChoiceField(choices=TwinType.choices)
    configuration = ConfigurationField(required=False, default=dict)


class TwinUpdateSerializer(StrictFieldsMixin, serializers.Serializer):
    """Body of PATCH /twins/{id}/: any of `name`, `status`, `configuration`, `state`; other fields → 400."""

    # Read-only here so a body naming them is refused with a clear 400.
    id = serializers.UUIDField(read_only=True)
    patient = serializers.UUIDField(read_only=True)
    twin_type = serializers.CharField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    created_by = serializers.UUIDField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    name = serializers.CharField(max_length=200, required=False)
    status = serializers.ChoiceField(choices=TwinStatus.choices, required=False)
    configuration = ConfigurationField(required=False)
    state = StateField(required=False, allow_null=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)
