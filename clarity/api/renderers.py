"""The API's JSON renderer: orjson (clarity.formats), several times faster than the stdlib for list pages."""

from rest_framework.renderers import BaseRenderer

from clarity.formats import dumps


class JSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return dumps(data)
