from django.apps import AppConfig


class MedicationsConfig(AppConfig):
    """
    A test-only app (installed by clarity/tests/settings.py, never in production): a new
    resource that belongs to a patient, built only from the generic pieces, to show that
    purge_patient and the authorization-matrix tests pick it up without being edited.
    """

    name = "clarity.tests.medications"
    label = "medications"
    verbose_name = "Medications (test app)"
    patient_owned_models = ["Medication"]
