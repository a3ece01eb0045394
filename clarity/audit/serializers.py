from rest_framework import serializers

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
