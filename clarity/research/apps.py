from django.apps import AppConfig


class ResearchConfig(AppConfig):
    name = "clarity.research"
    label = "research"
    verbose_name = "Research datasets"
    default_auto_field = "django.db.models.BigAutoField"
