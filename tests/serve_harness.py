"""`serve` in-process against an in-process sandbox, for the serve tests (import it explicitly).

`ServeHarness.start()` runs `toolkit.serve.server.serve` on its own event loop in a thread,
listening on a free loopback port, with a client that reaches the sandbox through its
in-process transport; `stop()` sets the stop event as SIGTERM would and waits for the end.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sync_harness import BASE_URL, SyncHarness

from toolkit.backoff import BackoffPolicy
from toolkit.client import Attempt, AttioClient
from toolkit.mapping import EventMapping, default_mapping, parse_mapping
from toolkit.sandbox import SandboxApp, SandboxConfig, SandboxTransport
from toolkit.serve.server import ServeOptions, serve

KEY = "wk_test_serve"


class ServeHarness(SyncHarness):
    """A sandbox with a pulled cache (`SyncHarness`), and `serve` started on it."""

    def __init__(self, tmp_path: Path, config: SandboxConfig | None = None, *, app: SandboxApp | None = None) -> None:
        super().__init__(tmp_path, config, app=app)
        self.url = ""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.error: BaseException | None = None

    def client_factory(self, hook: Callable[[Attempt], None]) -> AttioClient:
        return AttioClient(self.app.config.token, base_url=BASE_URL, transport=SandboxTransport(self.app),
                           policy=BackoffPolicy(max_attempts=8, base=0.001, cap=0.01, retry_after_cap=0.01),
                           read_rate=5000, write_rate=5000, on_attempt=hook)

    def start(self, mapping: EventMapping | str | None = None, **options: Any) -> str:
        if isinstance(mapping, str):
            mapping = parse_mapping(mapping)
        chosen = mapping or default_mapping()
        options.setdefault("write_keys", [KEY])
        options.setdefault("port", 0)
        options.setdefault("schema_refresh", None)
        serve_options = ServeOptions(**options)
        listening = threading.Event()

        def on_listening(url: str) -> None:
            self.url = url
            listening.set()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await serve(self.cache, chosen, serve_options, client_factory=self.client_factory, stop=self._stop,
                        on_listening=on_listening)

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as exc:  # surfaced by stop() and wait_for
                self.error = exc
                listening.set()

        self._thread = threading.Thread(target=run, name="serve", daemon=True)
        self._thread.start()
        assert listening.wait(15), "serve did not start listening"
        if self.error is not None:
            raise self.error
        return self.url

    def stop(self, timeout: float = 30) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            assert not self._thread.is_alive(), "serve did not stop"
        if self.error is not None:
            raise self.error

    # -- looking at the database -------------------------------------------------------------

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.cache.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def served(self) -> dict[str, str]:
        """messageId -> its one outcome, over every serve run (fails on a message with two)."""
        with self.cache.engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT e.message_id, e.status FROM event e JOIN run r ON r.id = e.run_id "
                "WHERE r.command = 'serve' ORDER BY e.id")).all()
        found: dict[str, str] = {}
        for message_id, status in rows:
            assert message_id not in found, f"{message_id} has two outcomes: {found[message_id]}, {status}"
            found[message_id] = status
        return found

    def wait_for(self, condition: Callable[[], bool], timeout: float = 60, what: str = "the condition") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.error is not None:
                raise self.error
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)
