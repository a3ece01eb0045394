from django.urls import path

from . import views

urlpatterns = [
    path("patients/<uuid:pk>/interactions/", views.InteractionListView.as_view(), name="patient-interactions"),
    path(
        "patients/<uuid:pk>/interactions/<int:interaction_id>/",
        views.InteractionItemView.as_view(),
        name="patient-interaction-item",
    ),
    path("patients/<uuid:pk>/export/", views.PatientExportView.as_view(), name="patient-export"),
]
