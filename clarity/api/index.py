"""`GET /api/v1/`: where a newcomer (or a client) finds the API's resources and documentation."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from clarity.api.views import ApiView

# Top-level collections only; per-patient resources are linked from the patient (docs/api.md).
RESOURCES = {
    "auth_token": "auth-token",
    "auth_logout": "auth-logout",
    "users_me": "users-me",
    "users": "users",
    "patients": "patients",
    "audit_events": "audit-events",
    "research_datasets": "research-datasets",
}

IndexSerializer = inline_serializer(
    "ApiIndex",
    {
        "name": serializers.CharField(),
        "version": serializers.CharField(),
        "docs": serializers.CharField(),
        "schema": serializers.CharField(),
        "resources": serializers.DictField(child=serializers.CharField()),
    },
)


class ApiIndexView(ApiView):
    """No authentication and no PHI: paths only (relative, so no Host header is echoed)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(operation_id="api_index", responses={200: IndexSerializer}, auth=[], summary="Index of resources")
    async def get(self, request):
        return await self.run(self.index, request)

    def index(self, request):
        return Response(
            {
                "name": settings.SPECTACULAR_SETTINGS["TITLE"],
                "version": settings.SPECTACULAR_SETTINGS["VERSION"],
                "docs": reverse("docs"),
                "schema": reverse("schema"),
                "resources": {key: reverse(name) for key, name in RESOURCES.items()},
            }
        )
