"""OpenAPI generation (drf-spectacular): problem+json errors, pages, headers, the bearer scheme.

drf-spectacular's stock AutoSchema documents the adrf views as they are (each is an adrf
APIView with async get/post/..., not a viewset with `alist`/`acreate` actions): a mapping
of adrf action names back to DRF's changed nothing in the generated document."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Messages keyed by field path; at most the first 100 fields.",
    )
    error_count = serializers.IntegerField(
        required=False, help_text="How many fields had errors, present when `errors` holds only the first 100."
    )


PROBLEM_DESCRIPTIONS = {
    400: "Invalid input (field errors in `errors`), malformed JSON, bad query parameter or cursor.",
    401: "Missing, invalid, expired or revoked credentials.",
    403: "The caller's role may not do this.",
    404: "Does not exist, or is outside the caller's scope.",
    405: "Method not allowed.",
    406: "No representation the Accept header allows.",
    409: "Conflicts with existing data (uniqueness, including concurrent races).",
    412: "If-Match does not match the current ETag.",
    413: "Body larger than 10 MiB.",
    415: "Body is not application/json.",
    422: "Idempotency-Key reused with a different request body.",
    428: "If-Match is required.",
    429: "Too many failed logins; see Retry-After.",
    503: "Database unavailable; see Retry-After.",
}

COMMON_ERRORS = (401, 405, 503)


def problems(*codes, common=True):
    """`responses=` entries for problem+json errors."""
    all_codes = sorted(set(codes) | (set(COMMON_ERRORS) if common else set()))
    return {
        (code, "application/problem+json"): OpenApiResponse(ProblemSerializer, description=PROBLEM_DESCRIPTIONS[code])
        for code in all_codes
    }


def paginated(serializer_class, name: str):
    return inline_serializer(
        name=name,
        fields={
            "results": serializer_class(many=True),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
        },
    )


PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="Opaque cursor from `next`/`previous`."),
    OpenApiParameter("page_size", int, description="1–200, default 50."),
]

IF_MATCH = OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, description='The resource\'s ETag, e.g. "3".')
ETAG_HEADER = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description='Strong ETag: the resource version, e.g. "3".',
)
LOCATION_HEADER = OpenApiParameter(
    "Location", str, OpenApiParameter.HEADER, response=[201], description="URL of the new resource."
)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "clarity.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Token from POST /api/v1/auth/token/."}
