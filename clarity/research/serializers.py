"""Research dataset input validation and the one representation of a dataset."""

from rest_framework import serializers

from clarity.api.fields import StrictFieldsMixin
from clarity.formats import iso_datetime
from twins.models import TwinType

from .models import DEFAULT_K, INSTRUMENTS, SELECTABLE_KINDS, CohortKind, DatasetStatus, ResearchDataset

MAX_RESEARCHERS = 100


class CohortSerializer(StrictFieldsMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=CohortKind.choices)
    value = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=32,
        help_text=f"For `twin_type`: one of {', '.join(TwinType.values)}; for `instrument`: one of "
        f"{', '.join(INSTRUMENTS)}; empty for `all_active`.",
    )

    def validate(self, attrs):
        kind, value = attrs["kind"], attrs.get("value", "")
        allowed = {CohortKind.TWIN_TYPE: TwinType.values, CohortKind.INSTRUMENT: INSTRUMENTS}.get(kind)
        if allowed is None and value:
            raise serializers.ValidationError({"value": ["Must be empty for all_active."]})
        if allowed is not None and value not in allowed:
            raise serializers.ValidationError({"value": [f"Must be one of: {', '.join(allowed)}."]})
        return attrs


class DatasetCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=200)
    purpose = serializers.CharField(max_length=2000, help_text="Why the data is released (shown to its researchers).")
    researchers = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=MAX_RESEARCHERS,
        help_text="Ids of researcher-role users.",
    )
    cohort = CohortSerializer()
    interaction_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=SELECTABLE_KINDS),
        max_length=len(SELECTABLE_KINDS),
        help_text="Interaction kinds to include. Assessments carry instrument and score; every other kind only its "
        "kind and year. Payloads (free text) are never included.",
    )
    k = serializers.IntegerField(min_value=2, max_value=100, default=DEFAULT_K, help_text="k-anonymity threshold.")

    def validate_interaction_kinds(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Give each kind once.")
        return value

    def validate_researchers(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Give each researcher once.")
        return value

    def to_model_fields(self) -> dict:
        data = dict(self.validated_data)
        cohort = data.pop("cohort")
        return {**data, "cohort_kind": cohort["kind"], "cohort_value": cohort.get("value", "")}


class DatasetBuildSerializer(StrictFieldsMixin, serializers.Serializer):
    resume = serializers.BooleanField(
        required=False, default=False, help_text="Continue an interrupted build instead of starting a new one."
    )


class DatasetSerializer(serializers.Serializer):
    """Documents `dataset_representation` (the schema test checks real responses against it)."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    purpose = serializers.CharField()
    researchers = serializers.ListField(child=serializers.UUIDField())
    cohort = CohortSerializer()
    interaction_kinds = serializers.ListField(child=serializers.ChoiceField(choices=SELECTABLE_KINDS))
    k = serializers.IntegerField()
    status = serializers.ChoiceField(choices=DatasetStatus.choices)
    build = serializers.IntegerField(allow_null=True, help_text="The build a download returns (null: never built).")
    created_by = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    built_at = serializers.DateTimeField(allow_null=True)
    manifest = serializers.DictField(
        help_text="Who built it, with which rules, and the counts (also the download's first line)."
    )
    download = serializers.URLField(allow_null=True)


def dataset_representation(dataset: ResearchDataset, request) -> dict:
    ready = dataset.ready_build is not None
    manifest = {key: value for key, value in dataset.manifest.items() if not key.startswith("_")} if ready else {}
    return {
        "id": str(dataset.pk),
        "name": dataset.name,
        "purpose": dataset.purpose,
        "researchers": sorted(str(user.pk) for user in dataset.researchers.all()),
        "cohort": {"kind": dataset.cohort_kind, "value": dataset.cohort_value},
        "interaction_kinds": list(dataset.interaction_kinds),
        "k": dataset.k,
        "status": dataset.status,
        "build": dataset.ready_build,
        "created_by": str(dataset.created_by_id),
        "created_at": iso_datetime(dataset.created_at),
        "built_at": iso_datetime(dataset.built_at),
        "manifest": manifest,
        "download": request.build_absolute_uri(f"/api/v1/research/datasets/{dataset.pk}/download/") if ready else None,
    }
