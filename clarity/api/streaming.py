"""Streaming responses that stay streamed under ASGI.

Django's StreamingHttpResponse, served by ASGI with a *sync* iterator, first consumes the
whole iterator into a list in one `sync_to_async(list)` call (and warns), so a large
export would sit in memory before the first byte is sent. This subclass pulls the sync
iterator one chunk per thread hop instead. The hop is thread-sensitive: it runs on the
request's own thread, which owns the database connection the view used. Producers should
yield large chunks (hundreds of KiB) so the hops stay few. Under WSGI and Django's test
client the sync iterator is used directly, as usual.
"""

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse


class SyncIteratorStreamingResponse(StreamingHttpResponse):
    async def __aiter__(self):
        chunks = iter(self.streaming_content)
        pull = sync_to_async(next, thread_sensitive=True)
        while (chunk := await pull(chunks, None)) is not None:
            yield chunk
