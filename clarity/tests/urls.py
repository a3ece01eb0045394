"""Production's URLs, plus the test-only app's, as a project would add a new app's `urls.py`."""

from django.urls import include, path

from clarity import urls

urlpatterns = [path("api/v1/", include("clarity.tests.medications.urls")), *urls.urlpatterns]

handler400 = urls.handler400
handler403 = urls.handler403
handler404 = urls.handler404
handler500 = urls.handler500
