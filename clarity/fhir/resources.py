"""Clarity records as FHIR R4 resources: one function per resource, used by every endpoint.

docs/fhir.md maps each Clarity field to its FHIR element. Resources are plain dicts
written with orjson; the tests validate them against the `fhir.resources` R4B models.
"""

from django.conf import settings

from clarity.formats import iso_datetime

FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"
LOINC = "http://loinc.org"

# Instrument → (LOINC code of the total score, display). PHQ-9 and GAD-7 totals.
INSTRUMENT_CODES = {
    "PHQ-9": ("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"),
    "GAD-7": ("70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]"),
}
CODE_INSTRUMENTS = {code: instrument for instrument, (code, _display) in INSTRUMENT_CODES.items()}

# Clarity's sex → FHIR AdministrativeGender (which has no "intersex": "other" is its code for it).
GENDER = {"female": "female", "male": "male", "intersex": "other", "unknown": "unknown"}

SURVEY_CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "survey",
            "display": "Survey",
        }
    ]
}
MRN_TYPE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR", "display": "Medical record number"}
    ]
}


def mrn_system() -> str:
    return settings.FHIR_MRN_SYSTEM


def patient_resource(patient) -> dict:
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    resource = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "meta": {"versionId": str(patient.version), "lastUpdated": iso_datetime(patient.updated_at)},
        "identifier": [{"use": "usual", "type": MRN_TYPE, "system": mrn_system(), "value": patient.mrn}],
        "active": patient.status == "active",
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "gender": GENDER[patient.sex],
        "birthDate": patient.date_of_birth.isoformat(),
    }
    if telecom:
        resource["telecom"] = telecom
    if patient.address:
        resource["address"] = [{"text": patient.address}]
    return resource


def observation_resource(row) -> dict:
    """An assessment interaction (`id`, `patient_id`, `payload`, `occurred_at`, `recorded_at`) as an Observation."""
    instrument = row.payload["instrument"]
    code, display = INSTRUMENT_CODES[instrument]
    return {
        "resourceType": "Observation",
        "id": str(row.id),
        "status": "final",
        "category": [SURVEY_CATEGORY],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": f"{instrument} total score"},
        "subject": {"reference": f"Patient/{row.patient_id}"},
        "effectiveDateTime": iso_datetime(row.occurred_at),
        "issued": iso_datetime(row.recorded_at),
        "valueInteger": row.payload["score"],
    }


def entry(base: str, resource: dict) -> dict:
    return {
        "fullUrl": f"{base}{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": "match"},
    }


def searchset(
    base: str, resources: list[dict], *, self_url: str, next_url: str | None, previous_url: str | None
) -> dict:
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    if previous_url:
        links.append({"relation": "previous", "url": previous_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [entry(base, resource) for resource in resources],
    }


def capability_statement(base: str, software_version: str) -> dict:
    """Exactly what this server serves: read-only Patient and Observation search, $everything."""
    count = {"name": "_count", "type": "number", "documentation": "Page size, 1–200 (default 50)."}
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-30",
        "kind": "instance",
        "software": {"name": "Clarity", "version": software_version},
        "implementation": {"description": "Clarity FHIR R4 read-only view", "url": base.rstrip("/")},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ],
                            "text": "Bearer token",
                        }
                    ],
                    "description": "Authorization: Bearer <token> from POST /api/v1/auth/token/. Results are "
                    "limited to the caller's care team; other patients answer 404.",
                },
                "resource": [
                    {
                        "type": "Patient",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "versioning": "versioned",
                        "readHistory": False,
                        "searchParam": [
                            {
                                "name": "identifier",
                                "type": "token",
                                "documentation": f"MRN, as `{mrn_system()}|<mrn>` or `<mrn>`.",
                            },
                            {"name": "name", "type": "string", "documentation": "Given- or family-name prefix."},
                            count,
                        ],
                        "operation": [
                            {
                                "name": "everything",
                                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                            }
                        ],
                    },
                    {
                        "type": "Observation",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [
                            {
                                "name": "patient",
                                "type": "reference",
                                "documentation": "Required: `<id>` or `Patient/<id>`.",
                            },
                            {
                                "name": "code",
                                "type": "token",
                                "documentation": f"`{LOINC}|44261-6` (PHQ-9 total) or `{LOINC}|70274-6` (GAD-7 total); "
                                "comma-separated for either.",
                            },
                            {
                                "name": "date",
                                "type": "date",
                                "documentation": "effectiveDateTime with ge, gt, le or lt; newest first.",
                            },
                            count,
                        ],
                    },
                ],
            }
        ],
    }
