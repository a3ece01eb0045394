from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from clarity.api import health
from clarity.api.errors import api_not_found
from clarity.api.index import ApiIndexView
from clarity.audit.views import AuditEventListView


def favicon(request):
    # Browsers ask every origin for /favicon.ico; without one each admin page logs a 404.
    return HttpResponsePermanentRedirect(static("drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png"))


api_v1 = [
    path("", ApiIndexView.as_view(), name="api-index"),
    path("", include("clarity.users.urls")),
    path("", include("patients.urls")),
    path("", include("twins.urls")),
    path("", include("interactions.urls")),
    path("", include("clarity.research.urls")),
    path("audit-events/", AuditEventListView.as_view(), name="audit-events"),
]

urlpatterns = [
    # A newcomer opening the server's address lands on the API documentation.
    path("", RedirectView.as_view(pattern_name="docs", permanent=False), name="home"),
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("fhir/R4/", include("clarity.fhir.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("health/live/", health.live, name="health-live"),
    path("health/ready/", health.ready, name="health-ready"),
    # Last: any other /api/ path is a problem+json 404 in every mode (DEBUG included).
    re_path(r"^api/(?P<rest>.*)$", api_not_found, name="api-not-found"),
]

handler400 = "clarity.api.errors.handler400"
handler403 = "clarity.api.errors.handler403"
handler404 = "clarity.api.errors.handler404"
handler500 = "clarity.api.errors.handler500"
