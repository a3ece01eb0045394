from django.apps import AppConfig
from django.db.backends.signals import connection_created


class InteractionsConfig(AppConfig):
    name = "interactions"
    verbose_name = "Interaction logs"

    def ready(self):
        from clarity.sqlite import use_runtime_parameter_limit

        # A batch POST (up to 1,000 rows and their audit events) must be one INSERT each
        # on SQLite too, so its query count does not grow with the batch.
        connection_created.connect(use_runtime_parameter_limit, dispatch_uid="clarity.sqlite.parameter_limit")
