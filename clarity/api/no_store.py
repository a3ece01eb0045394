"""`Cache-Control: no-store` and `Pragma: no-cache` on every API response.

API responses carry PHI (patients, care teams, twins, revisions, interactions, exports,
audit events, users) or a credential (POST /api/v1/auth/token/: RFC 6749 §5.1 requires
no-store); even an error can name a record. No browser, proxy or CDN may keep a copy.
`Pragma` is for HTTP/1.0 caches. One rule, for every path under /api/v1/ and the FHIR
view /fhir/ (the same PHI in another shape), so a new endpoint cannot forget it.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

PHI_PREFIXES = ("/api/v1/", "/fhir/")


def _no_store(request, response):
    if request.path.startswith(PHI_PREFIXES) and "no-store" not in response.get("Cache-Control", ""):
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
    return response


class NoStoreMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return _no_store(request, self.get_response(request))

    async def __acall__(self, request):
        return _no_store(request, await self.get_response(request))
