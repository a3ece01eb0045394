from patients.views import PatientRecordsView

from .models import Medication
from .serializers import MedicationSerializer


class MedicationsView(PatientRecordsView):
    model = Medication
    serializer_class = MedicationSerializer
    resource_type = "medication"
    example = {"name": "Sertraline", "dose": "50 mg daily"}
