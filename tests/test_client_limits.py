"""The client's limits against a real loopback server: answers over the size cap, and servers
that never finish (a trickle of bytes, or silence) cut off at the request's total deadline.

Each server is a raw `asyncio.start_server` on 127.0.0.1 speaking just enough HTTP/1.1, so the
bytes really cross a socket and the client's memory and time are what a hostile server causes.
Time bounds are generous: the machine running these is shared and slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType

import pytest

from toolkit.backoff import BackoffPolicy, may_try_again
from toolkit.client import Attempt, AttioClient
from toolkit.errors import RetryableApiError, ServerError, TransportError

KEY = "sk_test_limits_0123456789abcdef0123456789abcdef0123456789abcdef0123"
MIB = 1024 * 1024
#: A body block: the start of a JSON array that never closes.
BLOCK = b"0," * 32 * 1024


class Loopback:
    """A raw HTTP server on 127.0.0.1:0 that answers every connection with `answer(server, writer)`.

    `connections` counts the requests it took, `sent` the body bytes it handed to the socket.
    Leaving the block cancels the answers still writing.
    """

    def __init__(self, answer: Callable[[Loopback, asyncio.StreamWriter], Awaitable[None]]) -> None:
        self.answer = answer
        self.connections = 0
        self.sent = 0
        self.url = ""
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Loopback:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await reader.readuntil(b"\r\n\r\n")  # the client sends GETs: no body to read
            self.connections += 1
            await self.answer(self, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client hung up: what these tests expect it to do
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()


def head(status: str, *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", "Content-Type: application/json", *headers]) + "\r\n\r\n").encode()


async def endless_with_length(server: Loopback, writer: asyncio.StreamWriter) -> None:
    """Claims 2 GB, then writes for as long as the client reads."""
    writer.write(head("200 OK", f"Content-Length: {2 * 1024 ** 3}") + b"[")
    while True:
        writer.write(BLOCK)
        server.sent += len(BLOCK)
        await writer.drain()


async def endless_chunked(server: Loopback, writer: asyncio.StreamWriter) -> None:
    """No length at all: chunk after chunk, for as long as the client reads."""
    writer.write(head("200 OK", "Transfer-Encoding: chunked") + b"1\r\n[\r\n")
    chunk = f"{len(BLOCK):x}\r\n".encode() + BLOCK + b"\r\n"
    while True:
        writer.write(chunk)
        server.sent += len(BLOCK)
        await writer.drain()


async def trickle(server: Loopback, writer: asyncio.StreamWriter) -> None:
    """Headers at once, then one body byte every 0.2 s: each read is quick, the answer never ends."""
    writer.write(head("200 OK", "Content-Length: 100000") + b"[")
    while True:
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(b"0")
        server.sent += 1


async def silence(server: Loopback, writer: asyncio.StreamWriter) -> None:
    """Takes the request and never answers."""
    await asyncio.sleep(3600)


async def small_json(server: Loopback, writer: asyncio.StreamWriter) -> None:
    body = b'{"data": {"ok": true}}'
    writer.write(head("200 OK", f"Content-Length: {len(body)}", "Connection: close") + body)
    await writer.drain()


def unavailable_then(then: Callable[[Loopback, asyncio.StreamWriter], Awaitable[None]]
                     ) -> Callable[[Loopback, asyncio.StreamWriter], Awaitable[None]]:
    """A quick 503 on the first connection, then `then` on every later one."""
    async def answer(server: Loopback, writer: asyncio.StreamWriter) -> None:
        if server.connections == 1:
            writer.write(head("503 Service Unavailable", "Content-Length: 2", "Connection: close") + b"{}")
            await writer.drain()
            return
        await then(server, writer)
    return answer


@contextlib.asynccontextmanager
async def client_of(server: Loopback, **kwargs: object) -> AsyncIterator[AttioClient]:
    async with AttioClient(KEY, base_url=server.url, **kwargs) as client:  # type: ignore[arg-type]
        yield client


# -- answers over the size cap ---------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(("answer", "fragment"), [
    (endless_with_length, "declares 2,147,483,648 bytes, over 1,048,576 (max_response_bytes); not read"),
    (endless_chunked, "the answer is over 1,048,576 bytes (max_response_bytes); stopped reading"),
])
async def test_an_endless_answer_fails_at_the_cap_and_is_retried_with_little_read(
        answer: Callable[[Loopback, asyncio.StreamWriter], Awaitable[None]], fragment: str) -> None:
    attempts: list[Attempt] = []
    tracemalloc.start()
    try:
        async with Loopback(answer) as server, client_of(
                server, max_response_bytes=MIB, on_attempt=attempts.append,
                policy=BackoffPolicy(max_attempts=2, base=0.01, deadline=30.0)) as client:
            with pytest.raises(ServerError) as caught:
                await client.request("GET", "/v2/objects/people/records/big")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    error = caught.value
    assert fragment in error.message and error.status == 200
    assert isinstance(error, RetryableApiError) and may_try_again(error, idempotent=True)
    assert KEY not in str(error) and KEY not in repr(error)
    assert server.connections == 2  # retried once, per the policy
    assert [(a.error, a.will_retry) for a in attempts] == [("ServerError", True), ("ServerError", False)]
    # Both attempts together: the cap, a chunk, and what the kernel's socket buffers took in.
    assert server.sent < 32 * MIB, f"the server got {server.sent:,} bytes out"
    assert peak < 16 * MIB, f"peak traced memory {peak:,} bytes"


@pytest.mark.anyio
async def test_a_small_answer_over_real_http_is_read_whole() -> None:
    async with Loopback(small_json) as server, client_of(server, max_response_bytes=1024) as client:
        assert await client.get_data("/v2/self") == {"ok": True}
        assert await client.get_data("/v2/self") == {"ok": True}
    assert server.connections == 2


# -- the request's total deadline -----------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("answer", [trickle, silence])
async def test_a_server_that_never_finishes_is_cut_off_at_the_deadline(
        answer: Callable[[Loopback, asyncio.StreamWriter], Awaitable[None]]) -> None:
    attempts: list[Attempt] = []
    async with Loopback(answer) as server, client_of(
            server, on_attempt=attempts.append,
            policy=BackoffPolicy(max_attempts=5, base=0.01, deadline=1.0)) as client:
        began = time.monotonic()
        with pytest.raises(TransportError) as caught:
            await client.request("GET", "/v2/objects")
        took = time.monotonic() - began
    assert took < 5.0, f"the call took {took:.1f} s with a 1 s deadline"
    error = caught.value
    assert error.message == "no complete answer within 1 s (the request's deadline)"
    assert isinstance(error, RetryableApiError) and may_try_again(error, idempotent=True)
    assert isinstance(error.__cause__, TimeoutError)
    assert KEY not in str(error)
    assert server.connections == 1  # the deadline is spent: no attempt after it
    assert [(a.error, a.will_retry) for a in attempts] == [("TransportError", False)]
    if answer is trickle:
        assert server.sent >= 1  # bytes kept arriving, each read well inside httpx's read timeout


@pytest.mark.anyio
async def test_the_deadline_counts_from_the_first_attempt() -> None:
    async with Loopback(unavailable_then(trickle)) as server, client_of(
            server, policy=BackoffPolicy(max_attempts=5, base=0.01, deadline=1.0)) as client:
        began = time.monotonic()
        with pytest.raises(TransportError, match="the request's deadline"):
            await client.request("GET", "/v2/objects")
        took = time.monotonic() - began
    assert server.connections == 2  # a 503, then a trickle cut off by what remained of the 1 s
    assert took < 5.0, f"the call took {took:.1f} s with a 1 s deadline"
