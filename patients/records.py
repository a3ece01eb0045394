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

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response

from clarity.api.pagination import KeysetPaginator
from clarity.api.query import check_params
from clarity.api.schema import PAGE_PARAMETERS, paginated, problems
from clarity.api.views import ApiView
from clarity.users.policy import CARE, STAFF, roles

from . import reads, services


class PatientRecordsView(ApiView):
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
        rows, next_url, previous_url = reads.patient_records_list(
            actor=request.user,
            patient_id=pk,
            ctx=self.audit_context(request),
            model=self.model,
            resource_type=self.resource_type,
            page=lambda queryset: self.pages.paginate(queryset, request),
        )
        results = self.serializer_class(rows, many=True).data
        return Response({"results": results, "next": next_url, "previous": previous_url})

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
