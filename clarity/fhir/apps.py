from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "clarity.fhir"
    label = "fhir"
    verbose_name = "FHIR R4 (read-only)"
