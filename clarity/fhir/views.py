"""FHIR R4, read-only, under /fhir/R4/: the same tokens, care-team scope and audit trail as the API.

Every handler reaches records only through the domain apps' selectors (scope in SQL,
out-of-scope → 404) and writes its audit event in the same transaction as the read.
Errors are OperationOutcomes; every body is `application/fhir+json`.
"""

import datetime
import re

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer

from clarity.api.errors import Problem
from clarity.api.pagination import MAX_PAGE_SIZE, KeysetPaginator
from clarity.api.streaming import SyncIteratorStreamingResponse
from clarity.api.views import ApiView
from clarity.audit.models import Action
from clarity.audit.services import audit_record_many
from clarity.errors import OutOfScope
from clarity.formats import dumps
from clarity.users.policy import CARE, roles
from interactions.reads import assessment_read, assessments_list, patient_export
from patients.reads import patient_read
from patients.selectors import name_prefix_filter, patients_visible_to

from . import resources
from .errors import outcome_exception_handler
from .everything import everything_chunks
from .resources import CODE_INSTRUMENTS, FHIR_JSON, INSTRUMENT_CODES, LOINC

PATIENT_PAGES = KeysetPaginator(["family_name", "given_name", "id"])
OBSERVATION_PAGES = KeysetPaginator(["-occurred_at", "-id"])
DEFAULT_COUNT = 50
JSON_FORMATS = {"json", "application/json", "application/fhir+json"}
DATE_VALUE = re.compile(r"^(ge|gt|le|lt|eq)?(\d{4}-\d{2}-\d{2})(T.+)?$")


class FhirJSONRenderer(BaseRenderer):
    media_type = FHIR_JSON
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return b"" if data is None else dumps(data)


def invalid(name: str, message: str) -> Problem:
    return Problem(400, "A search parameter is invalid.", errors={name: [message]})


class FhirView(ApiView):
    """Answers application/fhir+json whatever the Accept header says (JSON is the one format
    served; `_format` other than JSON is refused), and OperationOutcome for every error."""

    renderer_classes = [FhirJSONRenderer]
    # Patients, Observations and $everything: the roles that may read a patient's data.
    permission_classes = [roles(GET=CARE)]
    allowed_params: frozenset = frozenset()
    repeatable_params: frozenset = frozenset()

    def perform_content_negotiation(self, request, force=False):
        return (self.renderer_classes[0](), FHIR_JSON)

    def get_exception_handler(self):
        return outcome_exception_handler

    def fhir_params(self, request) -> dict[str, list[str]]:
        params = {}
        for key in request.query_params:
            values = request.query_params.getlist(key)
            if key not in self.allowed_params | {"_format"}:
                raise invalid(key[:64], "Unknown or unsupported search parameter.")
            if len(values) > (2 if key in self.repeatable_params else 1):
                raise invalid(key, "Given too many times.")
            if any("\x00" in value for value in values):
                raise invalid(key, "Must not contain a NUL character.")
            params[key] = values
        fmt = params.get("_format", [None])[0]
        if fmt is not None and fmt not in JSON_FORMATS:
            raise Problem(406, "Only JSON (application/fhir+json) is served.")
        return params

    def count(self, params) -> int:
        raw = params.get("_count", [None])[0]
        if raw is None:
            return DEFAULT_COUNT
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
            raise invalid("_count", f"Must be an integer from 1 to {MAX_PAGE_SIZE}.")
        return int(raw)

    def base(self, request) -> str:
        return request.build_absolute_uri("/fhir/R4/")

    def fhir_response(self, body: dict, status: int = 200, headers=None) -> HttpResponse:
        response = HttpResponse(dumps(body), status=status, content_type=FHIR_JSON)
        for key, value in (headers or {}).items():
            response[key] = value
        return response


@extend_schema(exclude=True)
class MetadataView(FhirView):
    permission_classes = [AllowAny]
    authentication_classes = []

    async def get(self, request):
        return await self.run(self.capabilities, request)

    def capabilities(self, request):
        self.fhir_params(request)
        return self.fhir_response(
            resources.capability_statement(self.base(request), settings.SPECTACULAR_SETTINGS["VERSION"])
        )


@extend_schema(exclude=True)
class PatientSearchView(FhirView):
    audit_resource_type = "patient"
    allowed_params = frozenset({"identifier", "name", "_count", "cursor"})

    async def get(self, request):
        return await self.run(self.search, request)

    def search(self, request):
        params = self.fhir_params(request)
        size = self.count(params)
        queryset = patients_visible_to(request.user)
        if "identifier" in params:
            system, _bar, value = params["identifier"][0].rpartition("|")
            if not value or len(value) > 64:
                raise invalid("identifier", "Must be `<system>|<mrn>` or `<mrn>`.")
            if _bar and system != resources.mrn_system():
                queryset = queryset.none()  # an identifier system other than the MRN's matches nothing
            queryset = queryset.filter(mrn=value)
        if "name" in params:
            term = params["name"][0].strip()
            if not term or len(term) > 150:
                raise invalid("name", "Must be 1 to 150 characters.")
            queryset = queryset.filter(name_prefix_filter(term))
        with transaction.atomic():
            rows, next_url, previous_url = PATIENT_PAGES.paginate(queryset, request, page_size=size)
            audit_record_many(
                self.audit_context(request),
                action=Action.LIST,
                resource_type="patient",
                items=[(p.pk, p.pk) for p in rows],
            )
        bundle = resources.searchset(
            self.base(request),
            [resources.patient_resource(patient) for patient in rows],
            self_url=request.build_absolute_uri(),
            next_url=next_url,
            previous_url=previous_url,
        )
        return self.fhir_response(bundle)


@extend_schema(exclude=True)
class PatientReadView(FhirView):
    audit_resource_type = "patient"

    async def get(self, request, pk):
        return await self.run(self.read, request, pk)

    def read(self, request, pk):
        self.fhir_params(request)
        patient = patient_read(actor=request.user, patient_id=pk, ctx=self.audit_context(request), with_team=False)
        return self.fhir_response(resources.patient_resource(patient), headers={"ETag": f'W/"{patient.version}"'})


def parse_date_bounds(values: list[str]):
    """`date` values (ge, gt, le, lt, or eq/no prefix) → (since inclusive, until exclusive).
    A date without time covers its whole UTC day; a dateTime must carry an offset."""
    since = until = None
    for raw in values:
        match = DATE_VALUE.match(raw)
        if not match:
            raise invalid("date", "Must be a prefix (ge, gt, le, lt) and a date or dateTime with a UTC offset.")
        prefix, day, time = match.group(1) or "eq", match.group(2), match.group(3)
        try:
            if time:
                start = datetime.datetime.fromisoformat(day + time.replace("Z", "+00:00"))
                if start.tzinfo is None:
                    raise ValueError
                end = start + datetime.timedelta(microseconds=1)
            else:
                start = datetime.datetime.combine(datetime.date.fromisoformat(day), datetime.time(), datetime.UTC)
                end = start + datetime.timedelta(days=1)
        except (ValueError, OverflowError):
            raise invalid("date", "Must be a valid date, or a dateTime with a UTC offset.") from None
        if prefix in ("ge", "eq"):
            since = max(since, start) if since else start
        if prefix == "gt":
            since = max(since, end) if since else end
        if prefix in ("lt",):
            until = min(until, start) if until else start
        if prefix in ("le", "eq"):
            until = min(until, end) if until else end
    return since, until


def parse_codes(value: str) -> list[str]:
    """`code` tokens → instruments. Bare codes and `http://loinc.org|code` are accepted."""
    instruments = []
    for token in value.split(","):
        system, bar, code = token.rpartition("|")
        if (bar and system != LOINC) or code not in CODE_INSTRUMENTS:
            raise invalid("code", "Must be " + " or ".join(f"{LOINC}|{c}" for c, _d in INSTRUMENT_CODES.values()) + ".")
        instruments.append(CODE_INSTRUMENTS[code])
    return instruments


@extend_schema(exclude=True)
class ObservationSearchView(FhirView):
    audit_resource_type = "interaction"
    allowed_params = frozenset({"patient", "code", "date", "_count", "cursor"})
    repeatable_params = frozenset({"date"})

    async def get(self, request):
        return await self.run(self.search, request)

    def search(self, request):
        params = self.fhir_params(request)
        if "patient" not in params:
            raise invalid("patient", "Required (searches are per patient).")
        patient_id = params["patient"][0].removeprefix("Patient/")
        instruments = parse_codes(params["code"][0]) if "code" in params else list(INSTRUMENT_CODES)
        since, until = parse_date_bounds(params.get("date", []))
        size = self.count(params)
        rows, next_url, previous_url = assessments_list(
            actor=request.user,
            patient_id=patient_id,
            ctx=self.audit_context(request),
            page=lambda queryset: OBSERVATION_PAGES.paginate(queryset, request, page_size=size),
            instruments=instruments,
            since=since,
            until=until,
        )
        bundle = resources.searchset(
            self.base(request),
            [resources.observation_resource(row) for row in rows],
            self_url=request.build_absolute_uri(),
            next_url=next_url,
            previous_url=previous_url,
        )
        return self.fhir_response(bundle)


@extend_schema(exclude=True)
class ObservationReadView(FhirView):
    """`Observation/{id}`: what the `fullUrl`s of searches and `$everything` point to."""

    audit_resource_type = "interaction"

    async def get(self, request, pk):
        return await self.run(self.read, request, pk)

    def read(self, request, pk):
        self.fhir_params(request)
        if not (pk.isascii() and pk.isdigit()) or len(pk) > 18:
            raise OutOfScope("interaction", pk)
        row = assessment_read(
            actor=request.user, interaction_id=pk, ctx=self.audit_context(request), instruments=list(INSTRUMENT_CODES)
        )
        return self.fhir_response(resources.observation_resource(row))


@extend_schema(exclude=True)
class PatientEverythingView(FhirView):
    audit_resource_type = "patient"

    async def get(self, request, pk):
        return await self.run(self.everything, request, pk)

    def everything(self, request, pk):
        self.fhir_params(request)
        # The patient's whole record: the API export's rule (no break-the-glass), audited the same way.
        patient, _ = patient_export(actor=request.user, patient_id=pk, ctx=self.audit_context(request))
        return SyncIteratorStreamingResponse(
            everything_chunks(self.base(request), patient, generated_at=timezone.now()), content_type=FHIR_JSON
        )


@extend_schema(exclude=True)
class UnknownView(FhirView):
    """Any other path under /fhir/R4/: an unsupported resource type or interaction."""

    permission_classes = [AllowAny]

    async def get(self, request, rest=""):
        return await self.run(self.missing, request)

    post = put = patch = delete = get

    def missing(self, request):
        raise NotFound()
