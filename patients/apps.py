from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Patients and care teams"
    # A patient's records in this app (patients/registry.py); the Patient is their root.
    patient_owned_models = ["CareTeamMembership", "BreakGlassGrant"]

    def ready(self):
        from . import registry  # noqa: F401 (registers its system check)
