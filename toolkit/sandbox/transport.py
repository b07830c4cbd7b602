"""In-process ways to talk to the sandbox: httpx transports (async and sync) and a loopback server.

Only a transport can make a *client* see a dropped connection, so the in-process transports
draw each request's fault themselves: ``drop_before`` raises `httpx.ConnectError` without the
app seeing the request; ``drop_after`` lets the app apply the request, then raises
`httpx.ReadError` (the write happened, the client never heard). Status faults and slow answers
are left to the app, which handles them the same way in-process and over a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import httpx

from .app import LoggedRequest, SandboxApp, _parse_body, quiet_deliberate_drops
from .faults import predrawn_fault

__all__ = ["SandboxSyncTransport", "SandboxTransport", "serve_in_thread"]


class SandboxTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncBaseTransport` that calls the app in-process, with connection faults.

    Example:
        ``httpx.AsyncClient(transport=SandboxTransport(app), base_url="https://api.attio.com")``
    """

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request to the app, applying this request's connection fault if any.

        Raises:
            httpx.ConnectError: a ``drop_before`` fault (the app never saw the request).
            httpx.ReadError: a ``drop_after`` fault (the app applied it; the answer is lost).
        """
        decision = self.app.faults.draw()
        if decision.kind == "drop_before":
            content = await request.aread()
            self.app.log.append(
                LoggedRequest(request.method, request.url.path, dict(request.url.params), _parse_body(content),
                              None, fault="drop_before")  # fmt: skip
            )
            raise httpx.ConnectError("sandbox: connection dropped before the request reached the server",
                                     request=request)  # fmt: skip
        token = predrawn_fault.set(decision)
        try:
            response = await self._inner.handle_async_request(request)
        finally:
            predrawn_fault.reset(token)
        if decision.kind == "drop_after":
            await response.aclose()
            raise httpx.ReadError("sandbox: connection dropped after the request was processed", request=request)
        return response


class SandboxSyncTransport(httpx.BaseTransport):
    """The same as `SandboxTransport` for a sync `httpx.Client`.

    The app runs on an event loop in a daemon thread of its own, so it works from plain code
    and from inside someone else's running loop alike. Call `close()` (the client does) to stop it.
    """

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self._async = SandboxTransport(app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="attio-sandbox", daemon=True)
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Run the request on the sandbox's loop and wait for the answer (faults as above)."""
        content = request.read()

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            inner = httpx.Request(request.method, request.url, headers=request.headers, content=content)
            response = await self._async.handle_async_request(inner)
            body = await response.aread()
            return response.status_code, response.headers.raw, body

        try:
            status, headers, body = asyncio.run_coroutine_threadsafe(call(), self._loop).result()
        except httpx.TransportError as exc:
            raise type(exc)(str(exc), request=request) from exc
        return httpx.Response(status, headers=headers, content=body, request=request)

    def close(self) -> None:
        """Stop the sandbox's event loop thread."""
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_closed() and not self._loop.is_running():
            self._loop.close()


@contextlib.contextmanager
def serve_in_thread(app: SandboxApp, port: int = 0, **uvicorn_options: Any) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 in a thread; yields the base URL.

    Args:
        app: the sandbox.
        port: the port; 0 picks a free one.
        uvicorn_options: more `uvicorn.Config` keywords.
    """
    import uvicorn

    options: dict[str, Any] = {"log_level": "warning", "lifespan": "on", **uvicorn_options}
    quiet_deliberate_drops()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    thread = threading.Thread(target=server.run, name="attio-sandbox-server", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the sandbox server did not start (port in use?)")
            threading.Event().wait(0.01)
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
