from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from clarity.api.fields import parse_query_datetime
from clarity.api.pagination import KeysetPaginator
from clarity.api.query import check_params, choice_param, uuid_param
from clarity.api.schema import PAGE_PARAMETERS, paginated, problems
from clarity.api.views import ApiView
from clarity.users.policy import ADMINS, roles

from .models import Action, AuditEvent
from .serializers import AuditEventSerializer, audit_event_representation

AUDIT_PAGES = KeysetPaginator(["-occurred_at", "-id"])


class AuditEventListView(ApiView):
    audit_resource_type = "audit_event"
    permission_classes = [roles(GET=ADMINS)]

    @extend_schema(
        operation_id="audit_events_list",
        parameters=[
            OpenApiParameter("patient", str, description="Patient id (UUID)."),
            OpenApiParameter("actor", str, description="User id (UUID)."),
            OpenApiParameter("action", str, enum=Action.values),
            OpenApiParameter("since", str, description="ISO 8601 with offset, inclusive."),
            OpenApiParameter("until", str, description="ISO 8601 with offset, exclusive."),
            *PAGE_PARAMETERS,
        ],
        responses={200: paginated(AuditEventSerializer, "PaginatedAuditEventList"), **problems(400, 403)},
    )
    async def get(self, request):
        return await self.run(self.list, request)

    def list(self, request):
        check_params(request, {"patient", "actor", "action", "since", "until"})
        queryset = AuditEvent.objects.all()
        patient = uuid_param(request, "patient")
        if patient:
            queryset = queryset.filter(patient_id=patient)
        actor = uuid_param(request, "actor")
        if actor:
            queryset = queryset.filter(actor_id=actor)
        action = choice_param(request, "action", Action.values)
        if action:
            queryset = queryset.filter(action=action)
        if "since" in request.query_params:
            queryset = queryset.filter(occurred_at__gte=parse_query_datetime(request.query_params["since"], "since"))
        if "until" in request.query_params:
            queryset = queryset.filter(occurred_at__lt=parse_query_datetime(request.query_params["until"], "until"))
        return Response(AUDIT_PAGES.paginate(queryset, request).body(audit_event_representation))
