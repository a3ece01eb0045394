from django.db import transaction
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from clarity.api.concurrency import etag_for, parse_if_match
from clarity.api.errors import Problem
from clarity.api.pagination import KeysetPaginator
from clarity.api.query import check_params, choice_param
from clarity.api.schema import ETAG_HEADER, IF_MATCH, LOCATION_HEADER, PAGE_PARAMETERS, paginated, problems
from clarity.api.views import ApiView
from clarity.audit.models import Action
from clarity.audit.services import audit_record_many
from clarity.users.policy import CARE, CLINICIANS, STAFF, roles

from . import reads, services
from .models import Patient, PatientStatus
from .selectors import CARE_TEAM_ORDER, patients_visible_to, search_filter, with_care_team
from .serializers import (
    BreakGlassGrantSerializer,
    BreakGlassRequestSerializer,
    CareTeamAddSerializer,
    CareTeamMemberSerializer,
    PatientCreateSerializer,
    PatientSerializer,
    PatientUpdateSerializer,
    break_glass_grant_representation,
    care_team_member_representation,
    patient_representation,
)

PATIENT_PAGES = KeysetPaginator(["family_name", "given_name", "id"])
CARE_TEAM_PAGES = KeysetPaginator(list(CARE_TEAM_ORDER))


def patient_response(patient, status_code=200, headers=None):
    response = Response(patient_representation(patient), status=status_code, headers=headers)
    response["ETag"] = etag_for(patient.version)
    return response


class PatientListView(ApiView):
    audit_resource_type = "patient"
    permission_classes = [roles(GET=STAFF, POST=STAFF)]

    @extend_schema(
        operation_id="patients_list",
        parameters=[
            OpenApiParameter(
                "search",
                str,
                description="Name prefix (given or family, case-insensitive) or exact MRN; an email address or "
                "E.164 phone number matches exactly (through a blind index: contact details are encrypted).",
            ),
            OpenApiParameter("status", str, enum=PatientStatus.values),
            *PAGE_PARAMETERS,
        ],
        responses={200: paginated(PatientSerializer, "PaginatedPatientList"), **problems(400, 403)},
    )
    async def get(self, request):
        return await self.run(self.list, request)

    @extend_schema(
        operation_id="patients_create",
        parameters=[ETAG_HEADER, LOCATION_HEADER],
        request=PatientCreateSerializer,
        responses={201: PatientSerializer, **problems(400, 403, 409, 413, 415)},
    )
    async def post(self, request):
        return await self.run(self.create, request)

    def list(self, request):
        user = request.user
        check_params(request, {"search", "status"})
        queryset = patients_visible_to(user)
        search = request.query_params.get("search")
        if search is not None:
            term = search.strip()
            if not term or len(term) > 150:
                raise Problem(400, "A query parameter is invalid.", errors={"search": ["Must be 1 to 150 characters."]})
            queryset = queryset.filter(search_filter(term))
        wanted = choice_param(request, "status", PatientStatus.values)
        if wanted:
            queryset = queryset.filter(status=wanted)
        with transaction.atomic():
            page = PATIENT_PAGES.paginate(with_care_team(queryset), request)
            audit_record_many(
                self.audit_context(request),
                action=Action.LIST,
                resource_type="patient",
                items=[(p.pk, p.pk) for p in page.rows],
            )
        return Response(page.body(patient_representation))

    def create(self, request):
        user = request.user
        serializer = PatientCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        primary = data.pop("primary_clinician", None)
        patient = services.patient_create(
            actor=user, data=data, primary_clinician_id=primary, ctx=self.audit_context(request)
        )
        patient = with_care_team(Patient.objects).get(pk=patient.pk)
        location = request.build_absolute_uri(f"/api/v1/patients/{patient.pk}/")
        return patient_response(patient, status.HTTP_201_CREATED, headers={"Location": location})


class PatientDetailView(ApiView):
    audit_resource_type = "patient"
    permission_classes = [roles(GET=CARE, PATCH=STAFF, DELETE=STAFF)]

    @extend_schema(
        operation_id="patients_retrieve",
        parameters=[ETAG_HEADER],
        responses={200: PatientSerializer, **problems(403, 404)},
    )
    async def get(self, request, pk):
        return await self.run(self.retrieve, request, pk)

    @extend_schema(
        operation_id="patients_partial_update",
        parameters=[IF_MATCH, ETAG_HEADER],
        request=PatientUpdateSerializer,
        responses={200: PatientSerializer, **problems(400, 403, 404, 409, 412, 413, 415)},
    )
    async def patch(self, request, pk):
        return await self.run(self.update, request, pk)

    @extend_schema(
        operation_id="patients_destroy",
        parameters=[IF_MATCH],
        responses={204: None, **problems(400, 403, 404, 412)},
        description="Marks the patient inactive; PHI is retained.",
    )
    async def delete(self, request, pk):
        return await self.run(self.destroy, request, pk)

    def retrieve(self, request, pk):
        check_params(request, set())
        patient = reads.patient_read(actor=request.user, patient_id=pk, ctx=self.audit_context(request))
        return patient_response(patient)

    def update(self, request, pk):
        if_match = parse_if_match(request)
        serializer = PatientUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.patient_update(
            actor=request.user,
            patient_id=pk,
            data=serializer.validated_data,
            if_match=if_match,
            ctx=self.audit_context(request),
        )
        patient = with_care_team(Patient.objects.all()).get(pk=pk)
        return patient_response(patient)

    def destroy(self, request, pk):
        if_match = parse_if_match(request)
        services.patient_deactivate(
            actor=request.user, patient_id=pk, if_match=if_match, ctx=self.audit_context(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class CareTeamView(ApiView):
    audit_resource_type = "care_team"
    permission_classes = [roles(GET=CARE, POST=STAFF)]

    @extend_schema(
        operation_id="patients_care_team_list",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(CareTeamMemberSerializer, "PaginatedCareTeamList"), **problems(400, 403, 404)},
    )
    async def get(self, request, pk):
        return await self.run(self.list, request, pk)

    @extend_schema(
        operation_id="patients_care_team_create",
        request=CareTeamAddSerializer,
        responses={201: CareTeamMemberSerializer, **problems(400, 403, 404, 409, 413, 415)},
    )
    async def post(self, request, pk):
        return await self.run(self.create, request, pk)

    def list(self, request, pk):
        check_params(request, set())
        page = reads.care_team_list(
            actor=request.user,
            patient_id=pk,
            ctx=self.audit_context(request),
            page=lambda queryset: CARE_TEAM_PAGES.paginate(queryset, request),
        )
        return Response(page.body(care_team_member_representation))

    def create(self, request, pk):
        serializer = CareTeamAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.care_team_add(
            actor=request.user,
            patient_id=pk,
            clinician_id=serializer.validated_data["clinician"],
            role=serializer.validated_data["role"],
            ctx=self.audit_context(request),
        )
        return Response(care_team_member_representation(membership), status=status.HTTP_201_CREATED)


class CareTeamMemberView(ApiView):
    audit_resource_type = "care_team"
    permission_classes = [roles(DELETE=STAFF)]

    @extend_schema(operation_id="patients_care_team_destroy", responses={204: None, **problems(403, 404, 409)})
    async def delete(self, request, pk, clinician_id):
        return await self.run(self.destroy, request, pk, clinician_id)

    def destroy(self, request, pk, clinician_id):
        services.care_team_remove(
            actor=request.user, patient_id=pk, clinician_id=clinician_id, ctx=self.audit_context(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class BreakGlassView(ApiView):
    audit_resource_type = "break_glass"
    permission_classes = [roles(POST=CLINICIANS)]

    @extend_schema(
        operation_id="patients_break_glass",
        request=BreakGlassRequestSerializer,
        responses={201: BreakGlassGrantSerializer, **problems(400, 403, 404, 409, 413, 415)},
        description="Emergency, time-limited, read-only access for a clinician outside the care team. Audited.",
    )
    async def post(self, request, pk):
        return await self.run(self.create, request, pk)

    def create(self, request, pk):
        serializer = BreakGlassRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        grant = services.break_glass_grant(
            actor=request.user,
            patient_id=pk,
            reason=serializer.validated_data["reason"],
            ctx=self.audit_context(request),
        )
        return Response(break_glass_grant_representation(grant), status=status.HTTP_201_CREATED)


class PatientRecordsView(ApiView):
    """
    The generic endpoint of a patient-owned resource: `GET` (a keyset page, audited) and
    `POST` (create, audited) under /api/v1/patients/{id}/<records>/, made only of the pieces
    every patient resource shares: the role policy, RecordAccess, `patient_records_list` (the
    audited read) and `patient_record_create` (the write). A resource subclasses it:

        class MedicationsView(PatientRecordsView):
            model = Medication                      # with a `patient` key and `created_at`
            serializer_class = MedicationSerializer # validates the body, renders a record
            resource_type = "medication"            # in audit events and refusals
            example = {"name": "Sertraline", "dose": "50 mg daily"}

    routes it (`path("patients/<uuid:pk>/medications/", MedicationsView.as_view())`) and lists
    the model in its AppConfig's `patient_owned_models`. Its OpenAPI operations are made from
    those attributes; purge_patient and the authorization-matrix tests find it by itself.
    """

    model = None
    serializer_class = None
    resource_type = ""
    example: dict = {}
    # Who may use the endpoint: the patient's readers list, staff create; which patient a
    # caller reaches, and whether their access may write (not the patient, not
    # break-the-glass), is RecordAccess's decision.
    permission_classes = [roles(GET=CARE, POST=STAFF)]
    pages = KeysetPaginator(["created_at", "id"])

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.audit_resource_type = cls.resource_type
        plural = str(cls.model._meta.verbose_name_plural).replace(" ", "_")

        # Fresh handlers per resource: extend_schema annotates the function it decorates.
        @extend_schema(
            operation_id=f"patients_{plural}_list",
            parameters=PAGE_PARAMETERS,
            responses={
                200: paginated(cls.serializer_class, f"Paginated{cls.model.__name__}List"),
                **problems(400, 403, 404),
            },
            description="The patient's records, oldest first (`created_at`, `id`).",
        )
        async def get(self, request, pk):
            return await self.run(self.list, request, pk)

        @extend_schema(
            operation_id=f"patients_{plural}_create",
            request=cls.serializer_class,
            responses={201: cls.serializer_class, **problems(400, 403, 404, 409, 413, 415)},
            examples=[OpenApiExample("Example", value=cls.example, request_only=True)],
        )
        async def post(self, request, pk):
            return await self.run(self.create, request, pk)

        cls.get, cls.post = get, post

    def list(self, request, pk):
        check_params(request, set())
        page = reads.patient_records_list(
            actor=request.user,
            patient_id=pk,
            ctx=self.audit_context(request),
            model=self.model,
            resource_type=self.resource_type,
            page=lambda queryset: self.pages.paginate(queryset, request),
        )
        # One serializer for the page's rows, as DRF's many=True uses one child.
        return Response(page.body(self.serializer_class().to_representation))

    def create(self, request, pk):
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = services.patient_record_create(
            actor=request.user,
            patient_id=pk,
            model=self.model,
            resource_type=self.resource_type,
            data=serializer.validated_data,
            ctx=self.audit_context(request),
        )
        return Response(self.serializer_class(record).data, status=status.HTTP_201_CREATED)
