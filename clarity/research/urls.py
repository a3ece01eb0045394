from django.urls import path

from . import views

urlpatterns = [
    path("research/datasets/", views.DatasetListView.as_view(), name="research-datasets"),
    path("research/datasets/<uuid:pk>/", views.DatasetDetailView.as_view(), name="research-dataset"),
    path("research/datasets/<uuid:pk>/build/", views.DatasetBuildView.as_view(), name="research-dataset-build"),
    path(
        "research/datasets/<uuid:pk>/download/", views.DatasetDownloadView.as_view(), name="research-dataset-download"
    ),
]
