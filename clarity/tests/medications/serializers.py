from rest_framework import serializers

from clarity.api.fields import StrictFieldsMixin

from .models import Medication


class MedicationSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = Medication
        fields = ["id", "patient", "name", "dose", "created_at"]
        read_only_fields = ["id", "patient", "created_at"]
