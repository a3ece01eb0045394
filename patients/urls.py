from django.urls import path

from . import views

urlpatterns = [
    path("patients/", views.PatientListView.as_view(), name="patients"),
    path("patients/<uuid:pk>/", views.PatientDetailView.as_view(), name="patient-detail"),
    path("patients/<uuid:pk>/care-team/", views.CareTeamView.as_view(), name="patient-care-team"),
    path(
        "patients/<uuid:pk>/care-team/<uuid:clinician_id>/",
        views.CareTeamMemberView.as_view(),
        name="patient-care-team-member",
    ),
    path("patients/<uuid:pk>/break-glass/", views.BreakGlassView.as_view(), name="patient-break-glass"),
]
