from django.apps import AppConfig


class TwinsConfig(AppConfig):
    name = "twins"
    verbose_name = "Digital twins"
    patient_owned_models = ["DigitalTwin", "TwinRevision"]  # patients/registry.py
