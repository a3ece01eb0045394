from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from clarity.api.concurrency import etag_for, parse_if_match
from clarity.api.pagination import KeysetPaginator
from clarity.api.query import check_params, choice_param
from clarity.api.schema import ETAG_HEADER, IF_MATCH, LOCATION_HEADER, PAGE_PARAMETERS, paginated, problems
from clarity.api.views import ApiView
from clarity.users.policy import CARE, STAFF, roles

from . import reads, services
from .models import TwinStatus, TwinType
from .serializers import (
    TwinCreateSerializer,
    TwinRevisionSerializer,
    TwinSerializer,
    TwinUpdateSerializer,
    twin_representation,
    twin_revision_representation,
)

TWIN_PAGES = KeysetPaginator(["created_at", "id"])
# (twin, version) is unique, so version alone is a total order within one twin.
REVISION_PAGES = KeysetPaginator(["-version"])

IF_MATCH_REQUIRED = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=True, description='The twin\'s current ETag, e.g. "3".'
)


def twin_response(twin, status_code=200, headers=None):
    response = Response(twin_representation(twin), status=status_code, headers=headers)
    response["ETag"] = etag_for(twin.version)
    return response


class PatientTwinsView(ApiView):
    audit_resource_type = "twin"
    permission_classes = [roles(GET=CARE, POST=STAFF)]

    @extend_schema(
        operation_id="patients_twins_list",
        parameters=[
            OpenApiParameter("status", str, enum=TwinStatus.values),
            OpenApiParameter("twin_type", str, enum=TwinType.values),
            *PAGE_PARAMETERS,
        ],
        responses={200: paginated(TwinSerializer, "PaginatedTwinList"), **problems(400, 403, 404)},
        description="The patient's twins, oldest first (`created_at`, `id`); every status unless `status` narrows it.",
    )
    async def get(self, request, pk):
        return await self.run(self.list, request, pk)

    @extend_schema(
        operation_id="patients_twins_create",
        parameters=[ETAG_HEADER, LOCATION_HEADER],
        request=TwinCreateSerializer,
        responses={201: TwinSerializer, **problems(400, 403, 404, 409, 413, 415)},
        description="Creates a twin with status `initializing`, version 1, and its revision 1. "
        "A second live (non-archived) twin of a type → 409.",
    )
    async def post(self, request, pk):
        return await self.run(self.create, request, pk)

    def list(self, request, pk):
        check_params(request, {"status", "twin_type"})
        page = reads.twins_list(
            actor=request.user,
            patient_id=pk,
            ctx=self.audit_context(request),
            page=lambda queryset: TWIN_PAGES.paginate(queryset, request),
            status=choice_param(request, "status", TwinStatus.values),
            twin_type=choice_param(request, "twin_type", TwinType.values),
        )
        return Response(page.body(twin_representation))

    def create(self, request, pk):
        serializer = TwinCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        twin = services.twin_create(
            actor=request.user, patient_id=pk, **serializer.validated_data, ctx=self.audit_context(request)
        )
        location = request.build_absolute_uri(reverse("twin-detail", args=[twin.pk]))
        return twin_response(twin, status.HTTP_201_CREATED, headers={"Location": location})


class TwinDetailView(ApiView):
    audit_resource_type = "twin"
    permission_classes = [roles(GET=CARE, PATCH=STAFF, DELETE=STAFF)]

    @extend_schema(
        operation_id="twins_retrieve",
        parameters=[ETAG_HEADER],
        responses={200: TwinSerializer, **problems(400, 403, 404)},
    )
    async def get(self, request, pk):
        return await self.run(self.retrieve, request, pk)

    @extend_schema(
        operation_id="twins_partial_update",
        parameters=[IF_MATCH_REQUIRED, ETAG_HEADER],
        request=TwinUpdateSerializer,
        responses={200: TwinSerializer, **problems(400, 403, 404, 409, 412, 413, 415, 428)},
        description="Changes `name`, `status`, `configuration` or `state`. Any actual change bumps `version`; "
        "a configuration change writes a revision with the new version. Un-archiving while another live twin "
        "of the type exists → 409.",
    )
    async def patch(self, request, pk):
        return await self.run(self.update, request, pk)

    @extend_schema(
        operation_id="twins_destroy",
        parameters=[IF_MATCH],
        responses={204: None, **problems(400, 403, 404, 412)},
        description="Archives the twin (twins are never deleted).",
    )
    async def delete(self, request, pk):
        return await self.run(self.destroy, request, pk)

    def retrieve(self, request, pk):
        check_params(request, set())
        return twin_response(reads.twin_read(actor=request.user, twin_id=pk, ctx=self.audit_context(request)))

    def update(self, request, pk):
        if_match = parse_if_match(request, required=True)
        serializer = TwinUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        twin = services.twin_update(
            actor=request.user,
            twin_id=pk,
            data=serializer.validated_data,
            if_match=if_match,
            ctx=self.audit_context(request),
        )
        return twin_response(twin)

    def destroy(self, request, pk):
        if_match = parse_if_match(request)
        services.twin_archive(actor=request.user, twin_id=pk, if_match=if_match, ctx=self.audit_context(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TwinRevisionsView(ApiView):
    audit_resource_type = "twin_revision"
    permission_classes = [roles(GET=CARE)]

    @extend_schema(
        operation_id="twins_revisions_list",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(TwinRevisionSerializer, "PaginatedTwinRevisionList"), **problems(400, 403, 404)},
        description="Every configuration the twin has had, newest first; revision N is the configuration at twin version N.",
    )
    async def get(self, request, pk):
        return await self.run(self.list, request, pk)

    def list(self, request, pk):
        check_params(request, set())
        page = reads.twin_revisions_list(
            actor=request.user,
            twin_id=pk,
            ctx=self.audit_context(request),
            page=lambda queryset: REVISION_PAGES.paginate(queryset, request),
        )
        return Response(page.body(twin_revision_representation))
