from rest_framework import serializers

from clarity.formats import utc

from .models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.UUIDField(source="actor_id", read_only=True, allow_null=True)
    patient = serializers.UUIDField(source="patient_id", read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "actor",
            "actor_username",
            "actor_role",
            "action",
            "resource_type",
            "resource_id",
            "patient",
            "ip",
            "user_agent",
            "request_id",
            "outcome",
            "break_glass",
        ]
        read_only_fields = fields


def audit_event_representation(event: AuditEvent) -> dict:
    """An audit event of docs/api.md (the audit list); AuditEventSerializer documents it."""
    return {
        "id": event.id,
        "occurred_at": utc(event.occurred_at),
        "actor": event.actor_id,
        "actor_username": event.actor_username,
        "actor_role": event.actor_role,
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "patient": event.patient_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "outcome": event.outcome,
        "break_glass": event.break_glass,
    }
