"""Research dataset endpoints: admins define and build datasets; named researchers download them."""

from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAcceptable, NotFound
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response

from clarity.api.errors import Problem
from clarity.api.pagination import KeysetPaginator
from clarity.api.query import check_params
from clarity.api.schema import LOCATION_HEADER, PAGE_PARAMETERS, paginated, problems
from clarity.api.streaming import SyncIteratorStreamingResponse
from clarity.api.views import ApiView
from clarity.audit.models import Action
from clarity.audit.services import audit_record, audit_record_many
from clarity.errors import Conflict
from clarity.users.policy import ADMINS, RESEARCHERS, roles

from . import services
from .download import CSV, NDJSON, csv_chunks, ndjson_chunks
from .selectors import dataset_for, datasets_visible_to
from .serializers import DatasetBuildSerializer, DatasetCreateSerializer, DatasetSerializer, dataset_representation

DATASET_PAGES = KeysetPaginator(["-created_at", "-id"])
RESOURCE = services.RESOURCE


def _with_researchers(queryset):
    return queryset.prefetch_related("researchers")


class DatasetListView(ApiView):
    audit_resource_type = RESOURCE
    permission_classes = [roles(GET=ADMINS | RESEARCHERS, POST=ADMINS)]

    @extend_schema(
        operation_id="research_datasets_list",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(DatasetSerializer, "PaginatedResearchDatasetList"), **problems(400, 403)},
        description="Admins: every dataset. Researchers: the datasets naming them. Newest first. No rows here.",
    )
    async def get(self, request):
        return await self.run(self.list, request)

    @extend_schema(
        operation_id="research_datasets_create",
        request=DatasetCreateSerializer,
        parameters=[LOCATION_HEADER],
        responses={201: DatasetSerializer, **problems(400, 403, 413, 415)},
        description="Admin only. Defines the dataset and builds it (Safe Harbor, pseudonyms, k-anonymity). "
        "Audited as `create` and `export`.",
    )
    async def post(self, request):
        return await self.run(self.create, request)

    def list(self, request):
        check_params(request, set())
        with transaction.atomic():
            page = DATASET_PAGES.paginate(_with_researchers(datasets_visible_to(request.user)), request)
            audit_record_many(
                self.audit_context(request),
                action=Action.LIST,
                resource_type=RESOURCE,
                items=[(d.pk, None) for d in page.rows],
            )
        return Response(page.body(lambda dataset: dataset_representation(dataset, request)))

    def create(self, request):
        serializer = DatasetCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ctx = self.audit_context(request)
        dataset = services.dataset_create(actor=request.user, data=serializer.to_model_fields(), ctx=ctx)
        dataset = services.dataset_build(dataset_id=dataset.pk, actor=request.user, ctx=ctx)
        dataset = _with_researchers(datasets_visible_to(request.user)).get(pk=dataset.pk)
        location = request.build_absolute_uri(f"/api/v1/research/datasets/{dataset.pk}/")
        return Response(
            dataset_representation(dataset, request), status=status.HTTP_201_CREATED, headers={"Location": location}
        )


class DatasetDetailView(ApiView):
    audit_resource_type = RESOURCE
    permission_classes = [roles(GET=ADMINS | RESEARCHERS)]

    @extend_schema(
        operation_id="research_datasets_retrieve",
        responses={200: DatasetSerializer, **problems(403, 404)},
        description="The definition and the manifest of the ready build. Other researchers' datasets → 404.",
    )
    async def get(self, request, pk):
        return await self.run(self.retrieve, request, pk)

    def retrieve(self, request, pk):
        check_params(request, set())
        with transaction.atomic():
            dataset = dataset_for(request.user, pk)
            audit_record(self.audit_context(request), action=Action.READ, resource_type=RESOURCE, resource_id=pk)
        return Response(dataset_representation(dataset, request))


class DatasetBuildView(ApiView):
    audit_resource_type = RESOURCE
    permission_classes = [roles(POST=ADMINS)]

    @extend_schema(
        operation_id="research_datasets_build",
        request=DatasetBuildSerializer,
        responses={200: DatasetSerializer, **problems(400, 403, 404, 409, 413, 415)},
        description="Admin only. Rebuilds the dataset from current data (pseudonyms stay the same), or with "
        '`{"resume": true}` continues an interrupted build. The previous build stays downloadable until the new one '
        "is ready. A build already running → 409. Audited as `export`.",
    )
    async def post(self, request, pk):
        return await self.run(self.build, request, pk)

    def build(self, request, pk):
        serializer = DatasetBuildSerializer(data=request.data if request.data is not None else {})
        serializer.is_valid(raise_exception=True)
        dataset = dataset_for(request.user, pk)
        services.dataset_build(
            dataset_id=dataset.pk,
            actor=request.user,
            ctx=self.audit_context(request),
            resume=serializer.validated_data["resume"],
        )
        dataset = _with_researchers(datasets_visible_to(request.user)).get(pk=dataset.pk)
        return Response(dataset_representation(dataset, request))


class _NDJSONRenderer(BaseRenderer):
    """Names the format for content negotiation; the body is streamed by the view."""

    media_type = NDJSON
    format = "ndjson"


class _CSVRenderer(BaseRenderer):
    media_type = CSV
    format = "csv"


class DatasetDownloadView(ApiView):
    audit_resource_type = RESOURCE
    permission_classes = [roles(GET=RESEARCHERS)]
    renderer_classes = [_NDJSONRenderer, _CSVRenderer]

    @extend_schema(
        operation_id="research_datasets_download",
        parameters=[
            OpenApiParameter(
                "format", str, enum=["ndjson", "csv"], description="Default ndjson; `Accept: text/csv` works too."
            )
        ],
        responses={
            (200, NDJSON): OpenApiResponse(
                str, description='Line 1 `{"manifest": {...}}`, then one JSON object per row (streamed).'
            ),
            (200, CSV): OpenApiResponse(
                str, description="Line 1 `# manifest: {...}` (a comment line), line 2 the header, then rows (streamed)."
            ),
            **problems(400, 403, 404, 406, 409),
        },
        description="Researchers named on the dataset only (others → 404; other roles → 403). Streams the ready "
        "build; a dataset never built → 409. Audited as `export` before the first byte.",
    )
    async def get(self, request, pk):
        return await self.run(self.download, request, pk)

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except (Http404, NotFound, NotAcceptable) as exc:
            if force:
                return (self.renderer_classes[0](), NDJSON)
            if isinstance(exc, NotAcceptable):
                raise Problem(406, "Downloads are served as application/x-ndjson or text/csv.") from None
            # DRF answers an unknown ?format= with 404; it is a bad parameter.
            raise Problem(
                400, "A query parameter is invalid.", errors={"format": ["Must be one of: ndjson, csv."]}
            ) from None

    def download(self, request, pk):
        check_params(request, {"format"})
        with transaction.atomic():
            dataset = dataset_for(request.user, pk)
            if dataset.ready_build is None:
                raise Conflict("This dataset has not been built yet.")
            audit_record(self.audit_context(request), action=Action.EXPORT, resource_type=RESOURCE, resource_id=pk)
        as_csv = request.accepted_renderer.format == "csv"
        response = SyncIteratorStreamingResponse(
            (csv_chunks if as_csv else ndjson_chunks)(dataset),
            content_type=f"{CSV}; charset=utf-8" if as_csv else NDJSON,
        )
        extension = "csv" if as_csv else "ndjson"
        response["Content-Disposition"] = (
            f'attachment; filename="dataset-{dataset.pk}-build-{dataset.ready_build}.{extension}"'
        )
        return response
