"""
Patient-owned data: which models hold a patient's records, declared by the app that owns them.

Each app names its models on its AppConfig:

    class TwinsConfig(AppConfig):
        name = "twins"
        patient_owned_models = ["DigitalTwin", "TwinRevision"]

`purge_patient`, the admin's patient page and the authorization-matrix tests iterate over
`owned_models()`, so a new resource that belongs to a patient needs no edit to any of them:
only its own app, its `INSTALLED_APPS` entry and its `urls.py` include. A model reaches its
patient through a foreign key to `patients.Patient` or to another owned model (found
here, not declared); one with no such key (a stored response that quotes a patient)
defines `patient_rows(patient_id)` returning its queryset.

A system check (`manage.py check`) refuses a model that keeps a patient's record from being
deleted (PROTECT / RESTRICT / DO_NOTHING toward a patient or an owned model) without being
declared: purges would otherwise fail on it at run time.
"""

import functools

from django.apps import apps
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from .models import Patient


@functools.cache
def owned_models() -> tuple[type[models.Model], ...]:
    """Every declared model, each before the owned models it points to: the order a purge deletes in."""
    declared = [
        app_config.get_model(name)
        for app_config in apps.get_app_configs()
        for name in getattr(app_config, "patient_owned_models", ())
    ]
    ordered = []
    remaining = list(declared)
    while remaining:
        # Next: a model no other remaining model points to (its referrers are deleted already).
        for model in remaining:
            if not any(model in _targets(other) for other in remaining if other is not model):
                ordered.append(model)
                remaining.remove(model)
                break
        else:
            raise ImproperlyConfigured(f"Patient-owned models refer to each other in a cycle: {remaining}")
    return tuple(ordered)


def _targets(model) -> set:
    return {field.related_model for field in model._meta.concrete_fields if field.is_relation}


def patient_path(model) -> str | None:
    """The lookup from `model` to its patient's id ("patient_id", "twin__patient_id"), or None without one."""
    for field in model._meta.concrete_fields:
        if field.is_relation and field.related_model is Patient:
            return field.attname
    owned = set(owned_models())
    for field in model._meta.concrete_fields:
        if field.is_relation and field.related_model in owned and field.related_model is not model:
            through = patient_path(field.related_model)
            if through is not None:
                return f"{field.name}__{through}"
    return None


def rows_of(model, patient_id) -> models.QuerySet:
    """The rows of `model` that belong to the patient."""
    if hasattr(model, "patient_rows"):
        return model.patient_rows(patient_id)
    path = patient_path(model)
    if path is None:
        raise ImproperlyConfigured(f"{model._meta.label} reaches no patient: give it a patient_rows(patient_id).")
    return model._default_manager.filter(**{path: patient_id})


_BLOCKING = (models.PROTECT, models.RESTRICT, models.DO_NOTHING)


@checks.register(checks.Tags.models)
def check_patient_owned_models_are_declared(app_configs=None, **kwargs):
    owned = set(owned_models())
    held = owned | {Patient}
    errors = []
    for model in apps.get_models():
        if model in owned or model is Patient:
            continue
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model in held and field.remote_field.on_delete in _BLOCKING:
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.{field.name} keeps a patient's record from being purged.",
                        hint=f"Add {model.__name__!r} to patient_owned_models on {model._meta.app_config.name}'s AppConfig.",
                        obj=model,
                        id="patients.E001",
                    )
                )
    return errors
