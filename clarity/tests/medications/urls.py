from django.urls import path

from .views import MedicationsView

urlpatterns = [path("patients/<uuid:pk>/medications/", MedicationsView.as_view(), name="patient-medications")]
