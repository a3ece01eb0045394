import weakref

import orjson
from django.db import router
from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework.response import Response

from clarity.api.errors import Problem, flatten_errors
from clarity.api.fields import parse_query_datetime
from clarity.api.pagination import KeysetPaginator
from clarity.api.query import check_params, choice_param, uuid_param
from clarity.api.schema import PAGE_PARAMETERS, paginated, problems
from clarity.api.streaming import SyncIteratorStreamingResponse
from clarity.api.views import ApiView
from clarity.compiled import QueryTemplate
from clarity.formats import dumps, iso_datetime
from clarity.users.policy import CARE, roles
from patients.serializers import care_team_member_representation, patient_representation
from twins.models import DigitalTwin, TwinRevision

from . import reads, services
from .export import SLOTS, export_chunks
from .idempotency import HEADER, MAX_KEY_LENGTH, IdempotencyKey, request_fingerprint
from .models import InteractionLog, Kind
from .selectors import LogRow, as_log_rows, interactions_of
from .serializers import (
    MAX_BATCH,
    InteractionCreateSerializer,
    InteractionSerializer,
    PatientExportSerializer,
    export_twin_representation,
    interaction_representation,
)

INTERACTION_PAGES = KeysetPaginator(["-occurred_at", "-id"])


def _log_page(shape, *, patient_id, after_at, after_id, **filters):
    """One page of a patient's log as LOG_COLUMNS rows: the rows `interactions_of` selects,
    paged by INTERACTION_PAGES. `shape` is (reverse, size)."""
    reverse, size = shape
    after = None if after_id is None else [after_at, after_id]
    return INTERACTION_PAGES.page(as_log_rows(interactions_of(patient_id, **filters)), after, reverse, size)


# Built and compiled once per shape (clarity/compiled.py): every page request sends the same
# statement with new values.
LOG_PAGES = QueryTemplate(_log_page)

IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description=(
        f"Optional, 1–{MAX_KEY_LENGTH} printable ASCII characters (IETF Idempotency-Key draft; a structured-field "
        "string or a bare token). A retry by the same caller with the same key and the same body returns the "
        "original status and body and creates nothing; the same key with a different body (or another patient) "
        "→ 422. Keys are per caller and remembered for at least 24 hours."
    ),
)


def idempotency_key_from(request) -> str | None:
    """
    The key, or None without the header. The draft makes the value a structured-field
    string (`"abc"`); a bare token (`abc`) is accepted too, as most clients send one.
    Empty, longer than 255 characters or not printable ASCII → Problem 400.
    """
    raw = request.META.get("HTTP_IDEMPOTENCY_KEY")
    if raw is None:
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in value):
        raise Problem(
            400,
            "The Idempotency-Key header is invalid.",
            errors={HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."]},
        )
    return value


def _one_or_many(name: str, serializer_class, help_text: str):
    return PolymorphicProxySerializer(
        component_name=name,
        serializers=[serializer_class, serializer_class(many=True)],
        resource_type_field_name=None,
        many=False,
        help_text=help_text,
    )


class InteractionListView(ApiView):
    audit_resource_type = "interaction"
    permission_classes = [roles(GET=CARE, POST=CARE)]

    @extend_schema(
        operation_id="patients_interactions_list",
        parameters=[
            OpenApiParameter("kind", str, enum=Kind.values),
            OpenApiParameter("twin", str, description="Twin id (UUID)."),
            OpenApiParameter("since", str, description="ISO 8601 with offset; occurred_at ≥ since."),
            OpenApiParameter("until", str, description="ISO 8601 with offset; occurred_at < until."),
            *PAGE_PARAMETERS,
        ],
        responses={200: paginated(InteractionSerializer, "PaginatedInteractionList"), **problems(400, 403, 404)},
        description="Newest first by (occurred_at, id).",
    )
    async def get(self, request, pk):
        return await self.run(self.list, request, pk)

    @extend_schema(
        operation_id="patients_interactions_create",
        parameters=[IDEMPOTENCY_KEY],
        request=_one_or_many(
            "InteractionCreateBody", InteractionCreateSerializer, f"One interaction, or an array of 1–{MAX_BATCH}."
        ),
        responses={
            201: _one_or_many("InteractionCreated", InteractionSerializer, "The created interaction, or the array."),
            **problems(400, 403, 404, 409, 413, 415, 422),
        },
        description=(
            f"One object → 201 with it; an array of 1–{MAX_BATCH} → 201 with the array, all or nothing (errors "
            'keyed by item, e.g. "3.payload.score"). A patient may post only `message` and `assessment` (others → 403).'
        ),
    )
    async def post(self, request, pk):
        return await self.run(self.create, request, pk)

    def list(self, request, pk):
        check_params(request, {"kind", "twin", "since", "until"})
        params = request.query_params
        page = reads.interactions_list(
            actor=request.user,
            patient_id=pk,
            ctx=self.audit_context(request),
            page=lambda patient_id, **filters: INTERACTION_PAGES.paginate_rows(
                lambda after, reverse, size: LOG_PAGES.rows(
                    router.db_for_read(InteractionLog),
                    (reverse, size),
                    patient_id=patient_id,
                    after_at=after[0] if after else None,
                    after_id=after[1] if after else None,
                    **filters,
                ),
                InteractionLog,
                request,
            ),
            kind=choice_param(request, "kind", Kind.values),
            twin_id=uuid_param(request, "twin"),
            since=parse_query_datetime(params["since"], "since") if "since" in params else None,
            until=parse_query_datetime(params["until"], "until") if "until" in params else None,
        )
        return Response(page.body(lambda row: interaction_representation(LogRow(pk, row))))

    def create(self, request, pk):
        key = idempotency_key_from(request)
        data = request.data
        many = isinstance(data, list)
        if many:
            if not 1 <= len(data) <= MAX_BATCH:
                raise Problem(400, "The request is invalid.", errors={"body": [f"Send 1 to {MAX_BATCH} interactions."]})
            serializer = InteractionCreateSerializer(data=data, many=True)
        else:
            serializer = InteractionCreateSerializer(data=data)
        if not serializer.is_valid():
            raise Problem(400, "The request is invalid.", errors=flatten_errors(serializer.errors))
        items = serializer.validated_data if many else [serializer.validated_data]

        def represent(rows):
            body = [interaction_representation(row) for row in rows] if many else interaction_representation(rows[0])
            # The idempotency store keeps the body as JSON (a replay answers from it, as written).
            return orjson.loads(dumps(body)) if key is not None else body

        idempotency = None
        if key is not None:
            idempotency = IdempotencyKey(key, request_fingerprint(target=f"patients/{pk}/interactions", body=data))
        created = services.interactions_create(
            actor=request.user,
            patient_id=pk,
            items=items,
            many=many,
            idempotency=idempotency,
            ctx=self.audit_context(request),
            represent=represent,
        )
        return Response(created.body, status=created.status)


class InteractionItemView(ApiView):
    """Log entries are append-only: no method is allowed on one (405)."""

    audit_resource_type = "interaction"
    permission_classes = [roles()]


class PatientExportView(ApiView):
    audit_resource_type = "patient"
    permission_classes = [roles(GET=CARE)]

    @extend_schema(
        operation_id="patients_export",
        responses={200: PatientExportSerializer, **problems(400, 403, 404, 429)},
        description=(
            "Everything held about the patient as one JSON document, streamed (bounded memory for any number of "
            "interactions; interactions newest first, as of the start of the export). Admin, care team, or the "
            "patient; break-the-glass → 403. Audited as `export` before the first byte is sent. At most a few "
            "exports stream at once per server process and per caller: beyond that, 429 with `Retry-After`. "
            "A client that stops reading is disconnected after the server's send timeout."
        ),
    )
    async def get(self, request, pk):
        return await self.run(self.export, request, pk)

    def export(self, request, pk):
        check_params(request, set())
        # Before any database work: a refused export (Busy, 429) costs nothing.
        slot = SLOTS.acquire(request.user.pk)
        try:
            response = self._export(request, pk, slot)
        except BaseException:
            slot.release()
            raise
        response._resource_closers.append(slot.release)  # a client that disconnects mid-stream
        # and a response nobody streamed nor closed (only a test can drop one).
        weakref.finalize(response, slot.release)
        return response

    def _export(self, request, pk, slot):
        patient, up_to_id = reads.patient_export(
            actor=request.user, patient_id=pk, ctx=self.audit_context(request), with_team=True, upper_bound=True
        )
        twins = (
            DigitalTwin.objects.filter(patient=patient)
            .order_by("created_at", "id")
            .prefetch_related(Prefetch("revisions", queryset=TwinRevision.objects.order_by("-version")))
        )
        head = {
            "patient": patient_representation(patient),
            "care_team": [care_team_member_representation(member) for member in patient.care_team.all()],
            "twins": [export_twin_representation(twin) for twin in twins],
        }
        exported_at = iso_datetime(timezone.now())
        return SyncIteratorStreamingResponse(
            export_chunks(patient_id=patient.pk, head=head, exported_at=exported_at, up_to_id=up_to_id, slot=slot),
            content_type="application/json",
        )
