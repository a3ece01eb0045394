from rest_framework import serializers

from clarity.api.fields import StrictFieldsMixin
from clarity.formats import utc

from .models import (
    BreakGlassGrant,
    CareTeamMembership,
    CareTeamRole,
    Patient,
    PatientStatus,
    Sex,
)
from .validators import validate_break_glass_reason, validate_date_of_birth, validate_e164_phone


class CareTeamMemberSerializer(serializers.ModelSerializer):
    clinician = serializers.UUIDField(source="clinician_id", read_only=True)

    class Meta:
        model = CareTeamMembership
        fields = ["clinician", "role", "created_at"]
        read_only_fields = fields


class CareTeamBriefSerializer(serializers.ModelSerializer):
    clinician = serializers.UUIDField(source="clinician_id", read_only=True)

    class Meta:
        model = CareTeamMembership
        fields = ["clinician", "role"]
        read_only_fields = fields


class PatientSerializer(serializers.ModelSerializer):
    """The patient representation of docs/api.md."""

    user = serializers.UUIDField(source="user_id", read_only=True, allow_null=True)
    care_team = CareTeamBriefSerializer(many=True, read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "given_name",
            "family_name",
            "date_of_birth",
            "sex",
            "email",
            "phone",
            "address",
            "status",
            "user",
            "care_team",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


def patient_representation(patient: Patient) -> dict:
    """
    The patient of docs/api.md, for every endpoint that returns one (detail, list, create,
    update, export). Built directly: every patient read and list page paid ~1 ms per
    patient in DRF's per-field machinery. PatientSerializer documents it (a test keeps the
    two identical). Expects `care_team` prefetched in (created_at, id) order, as the
    selectors do. Ids stay UUIDs and timestamps datetimes in UTC, as every representation
    holds them: the renderer's orjson writes both (clarity/formats.py).
    """
    return {
        "id": patient.id,
        "mrn": patient.mrn,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "sex": patient.sex,
        "email": patient.email,
        "phone": patient.phone,
        "address": patient.address,
        "status": patient.status,
        "user": patient.user_id,
        "care_team": [{"clinician": m.clinician_id, "role": m.role} for m in patient.care_team.all()],
        "version": patient.version,
        "created_at": utc(patient.created_at),
        "updated_at": utc(patient.updated_at),
    }


def care_team_member_representation(member: CareTeamMembership) -> dict:
    """A care-team member of docs/api.md (care-team list and add, export); CareTeamMemberSerializer documents it."""
    return {"clinician": member.clinician_id, "role": member.role, "created_at": utc(member.created_at)}


def break_glass_grant_representation(grant: BreakGlassGrant) -> dict:
    """What a clinician learns of the grant they were given; BreakGlassGrantSerializer documents it."""
    return {"expires_at": utc(grant.expires_at)}


class PhoneField(serializers.CharField):
    """An E.164 number, checked by `validate_e164_phone` after the length (in that order, as
    the OpenAPI document lists them)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(validate_e164_phone)


class PatientWriteFields(serializers.Serializer):
    given_name = serializers.CharField(max_length=150)
    family_name = serializers.CharField(max_length=150)
    date_of_birth = serializers.DateField(validators=[validate_date_of_birth])
    sex = serializers.ChoiceField(choices=Sex.choices, required=False)
    email = serializers.EmailField(max_length=254, required=False, allow_null=True)
    phone = PhoneField(max_length=16, required=False, allow_null=True)
    address = serializers.CharField(max_length=1000, required=False, allow_null=True, allow_blank=True)
    user = serializers.UUIDField(required=False, allow_null=True)


class PatientCreateSerializer(StrictFieldsMixin, PatientWriteFields):
    mrn = serializers.RegexField(
        r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}\Z",
        error_messages={"invalid": "Letters, digits and . _ / - only, at most 64."},
    )
    primary_clinician = serializers.UUIDField(required=False, allow_null=True)


class PatientUpdateSerializer(StrictFieldsMixin, PatientWriteFields):
    # Read-only here so a body naming them is refused with a clear 400.
    id = serializers.UUIDField(read_only=True)
    mrn = serializers.CharField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    care_team = serializers.ListField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    status = serializers.ChoiceField(choices=PatientStatus.choices, required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)


class CareTeamAddSerializer(StrictFieldsMixin, serializers.Serializer):
    clinician = serializers.UUIDField()
    role = serializers.ChoiceField(choices=CareTeamRole.choices, default=CareTeamRole.CONSULTING)


class BreakGlassRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=2000, validators=[validate_break_glass_reason])


class BreakGlassGrantSerializer(serializers.Serializer):
    expires_at = serializers.DateTimeField()
