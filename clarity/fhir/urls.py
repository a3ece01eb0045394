from django.urls import path, re_path

from . import views

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="fhir-metadata"),
    path("Patient", views.PatientSearchView.as_view(), name="fhir-patient-search"),
    re_path(
        r"^Patient/(?P<pk>[A-Za-z0-9\-.]{1,64})/\$everything$",
        views.PatientEverythingView.as_view(),
        name="fhir-everything",
    ),
    re_path(r"^Patient/(?P<pk>[A-Za-z0-9\-.]{1,64})$", views.PatientReadView.as_view(), name="fhir-patient-read"),
    path("Observation", views.ObservationSearchView.as_view(), name="fhir-observation-search"),
    re_path(
        r"^Observation/(?P<pk>[A-Za-z0-9\-.]{1,64})$", views.ObservationReadView.as_view(), name="fhir-observation-read"
    ),
    re_path(r"^(?P<rest>.*)$", views.UnknownView.as_view(), name="fhir-unknown"),
]
