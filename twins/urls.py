from django.urls import path

from . import views

urlpatterns = [
    path("patients/<uuid:pk>/twins/", views.PatientTwinsView.as_view(), name="patient-twins"),
    path("twins/<uuid:pk>/", views.TwinDetailView.as_view(), name="twin-detail"),
    path("twins/<uuid:pk>/revisions/", views.TwinRevisionsView.as_view(), name="twin-revisions"),
]
