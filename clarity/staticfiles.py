"""Static files (admin and API-docs assets) as Django deployments serve them: ServeStatic.

`collectstatic` writes every file under a content-hashed name with gzip and brotli
variants (CompressedManifestStaticFilesStorage); ServeStatic serves them from memory-
mapped metadata, negotiates the compressed variant and marks hashed names immutable
(Cache-Control: max-age=10 years), so a browser never asks twice for the same asset.
"""

from django.contrib.staticfiles import apps
from servestatic.middleware import ServeStaticMiddleware
from servestatic.responders import MissingFileError  # what the middleware raises (storage has its own class)
from servestatic.storage import CompressedManifestStaticFilesStorage


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed URLs under DEBUG too, so `make run` serves what production serves (and caches it the same way)."""

    def url(self, name, force=False):
        return super().url(name, force=True)


class StaticFilesMiddleware(ServeStaticMiddleware):
    """ServeStatic, except that a missing file under DEBUG is a plain 404 rather than a 500 debug page."""

    async def __call__(self, request):
        try:
            return await super().__call__(request)
        except MissingFileError:
            return await self.get_response(request)


class StaticFilesConfig(apps.StaticFilesConfig):
    """
    `django.contrib.staticfiles`, not collecting assets no page of ours uses: DRF's
    browsable-API files (the API renders JSON only) and ReDoc (the docs are Swagger UI).
    They were 6.4 of 12.5 MB, and brotli at its best level made collectstatic slow.
    """

    ignore_patterns = [*apps.StaticFilesConfig.ignore_patterns, "rest_framework", "redoc"]
