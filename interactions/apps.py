from django.apps import AppConfig


class InteractionsConfig(AppConfig):
    name = "interactions"
    verbose_name = "Interaction logs"
    # IdempotencyRecord: a stored response quotes the patient's interactions (patients/registry.py).
    patient_owned_models = ["InteractionLog", "IdempotencyRecord"]
