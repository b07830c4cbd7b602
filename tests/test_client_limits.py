"""The client's limits against a real loopback server: answers over the size cap, and servers
that never finish (a trickle of bytes, or silence) cut off at the request's total deadline.

Each server is a raw `asyncio.start_server` on 127.0.0.1 speaking just enough HTTP/1.1, so the
bytes really cross a socket and the client's memory and time are what a hostile server causes.
Time bounds are generous: the machine running these is shared and slow.

Then the rate budgets, end to end: the real client (and the real schema fetch) against a server
as strict as Attio at its worst behind a jittery network (tests/strict_server.py), on simulated
time (tests/virtual_time.py) so the figures are exact however busy the machine is. The simulated
network reports each request's writing as httpcore does over a real socket (checked here too),
so a budget charges a request from its release to `arrival_allowance` after its writing, not
Attio's time to answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType

import httpx
import pytest
import virtual_time
from attio_data import attribute_json, option_json, workspace
from fake_attio import FakeAttio
from strict_server import JitteryAttio, quick_answer, quick_way, slow_write

from toolkit.backoff import BackoffPolicy, may_try_again
from toolkit.client import Attempt, AttioClient
from toolkit.errors import RetryableApiError, ServerError, TransportError
from toolkit.pull import fetch_schema
from toolkit.ratelimit import Turn

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


async def slow_small_json(server: Loopback, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(0.2)  # Attio working on it
    await small_json(server, writer)


@pytest.mark.anyio
async def test_over_a_real_socket_a_turn_hears_its_request_written_before_its_answer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """httpcore's trace events reach the budget: the turn is told the request is written (its
    allowance starts) before the answer ends it."""
    heard: list[str] = []
    original_sent, original_end = Turn.sent, Turn.end

    def sent(turn: Turn) -> None:
        heard.append("sent")
        original_sent(turn)

    def end(turn: Turn) -> None:
        heard.append("end")
        original_end(turn)

    monkeypatch.setattr(Turn, "sent", sent)
    monkeypatch.setattr(Turn, "end", end)
    async with Loopback(slow_small_json) as server, client_of(server) as client:
        assert await client.get_data("/v2/self") == {"ok": True}
        assert client.budgets.read.in_flight == 0
    # The allowance (50 ms) or the answer (200 ms) ends it, whichever is first; once only.
    assert heard[:2] == ["sent", "end"]


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


# -- the rate budgets against a strict server behind a jittery network --------------------------


def simulated_client(transport: httpx.AsyncBaseTransport, policy: BackoffPolicy | None = None,
                     **kwargs: object) -> AttioClient:
    """A client on the running (simulated) loop's clock; retries sleep on it too."""
    return AttioClient(KEY, base_url="https://api.attio.test", transport=transport, policy=policy,  # type: ignore[arg-type]
                       clock=asyncio.get_running_loop().time, **kwargs)


def sixteen_events_writing(network: httpx.AsyncBaseTransport, writes_each: int,
                           policy: BackoffPolicy | None = None) -> None:
    """Sync's shape, on simulated time: 16 events in flight, each sending `writes_each` asserts
    in turn through one client over `network`."""
    async def main() -> None:
        async with simulated_client(network, policy) as client:
            async def events() -> None:
                for n in range(writes_each):
                    await client.assert_record("people", "email_addresses", {"email_addresses": [f"{n}@x.test"]})
            await asyncio.gather(*(events() for _ in range(16)))

    virtual_time.run(main())


def record_written(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"data": {"id": {"record_id": "r-1"}, "values": {}}})


@pytest.mark.parametrize("seed", [1, 2])
def test_a_schema_fetch_through_a_jittery_network_gets_no_429_at_the_read_limit(seed: int) -> None:
    data = workspace()
    objects = list(data["attributes"])
    for n in range(589):  # select attributes spread over the objects: 600 reads in all
        obj = objects[n % len(objects)]
        data["attributes"][obj].append(attribute_json(obj, f"pick_{n}", "select", system=False))
        data["options"][f"{obj}.pick_{n}"] = [option_json(obj, f"pick_{n}", "A")]
    fake = FakeAttio(data, token=KEY)
    network = JitteryAttio(fake.handle, reads=100, seed=seed)

    async def main() -> None:
        async with simulated_client(network) as client:
            await fetch_schema(client)

    virtual_time.run(main())
    reads = network.servers["read"]
    assert reads.refused == 0
    # A whole number of windows' worth, so that a perfect limiter would make exactly 100/s of it.
    assert len(reads.accepted) == len(fake.requests) == 600
    assert reads.rate() >= 0.9 * 100, f"{reads.rate():.1f} reads/s"


@pytest.mark.parametrize("seed", [1, 2])
def test_sync_shaped_writes_through_a_jittery_network_get_no_429_at_the_write_limit(seed: int) -> None:
    network = JitteryAttio(record_written, writes=25, seed=seed)

    sixteen_events_writing(network, 15)
    writes = network.servers["write"]
    assert writes.refused == 0
    assert len(writes.accepted) == 16 * 15
    assert writes.rate() >= 0.9 * 25, f"{writes.rate():.1f} writes/s"


def test_after_a_429_nothing_new_is_sent_until_its_retry_after() -> None:
    """Another client spends part of the workspace's budget: this one's count cannot see it, and
    a 429 is the only sign. No request may be released while the refused one waits."""
    network = JitteryAttio(record_written, writes=18, seed=3)  # the budget left by someone else

    sixteen_events_writing(network, 10, policy=BackoffPolicy(max_attempts=10))
    writes = network.servers["write"]
    assert len(writes.accepted) == 160  # every write retried to success, as before
    assert network.refusals
    for _, answered in network.refusals:
        # Released before the 429's answer came back: on its way (at most 50 ms). After it: not
        # before the Retry-After second has passed.
        paused = [at for at in writes.accepted if answered + 0.051 < at < answered + 1.0]
        assert paused == [], f"{len(paused)} writes arrived during the pause after {answered:.3f}"


def test_a_request_takes_its_place_in_the_budget_only_once_it_has_a_connection() -> None:
    """Waiting for one of the connection slots costs the budget nothing."""
    class Slow(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0.5)
            return record_written(request)

    async def main() -> list[int]:
        async with simulated_client(Slow(), max_concurrency=1) as client:
            await client.get_self()  # the first answer: from now on requests go together
            writes = [asyncio.create_task(client.assert_record("people", "email_addresses", {}))
                      for _ in range(3)]
            await asyncio.sleep(0.1)
            in_flight = [client.budgets.write.in_flight]
            await asyncio.sleep(0.5)
            in_flight.append(client.budgets.write.in_flight)
            await asyncio.gather(*writes)
            return in_flight

    assert virtual_time.run(main()) == [1, 1]  # one connection: one place taken at a time


@pytest.mark.parametrize("seed", [1, 2])
def test_slow_writes_are_not_charged_for_attio_s_time_to_answer(seed: int) -> None:
    """Writes at 25/s from 16 events in flight, Attio answering after 150-250 ms but each write
    arriving 5-20 ms after it was written. Holding each place until the answer (the rule
    before) made about 0.8 of the limit; it is above 0.9 now, still with none refused."""
    network = JitteryAttio(record_written, writes=25, seed=seed, arrival=quick_way, answer=slow_write)

    sixteen_events_writing(network, 20)
    writes = network.servers["write"]
    assert writes.refused == 0
    assert len(writes.accepted) == 16 * 20
    assert writes.steady_rate() >= 0.9 * 25, f"{writes.steady_rate():.2f} writes/s"


def test_writes_slower_to_arrive_than_the_allowance_may_be_refused_and_are_retried() -> None:
    """The assumption broken (100-200 ms on the way, the allowance 50 ms): a strict server refuses
    some, and each refused write is retried after its Retry-After to success."""
    network = JitteryAttio(record_written, writes=25, seed=1, arrival=lambda rng: rng.uniform(0.100, 0.200),
                           answer=quick_answer)

    sixteen_events_writing(network, 10, policy=BackoffPolicy(max_attempts=10))
    writes = network.servers["write"]
    assert writes.refused > 0
    assert len(writes.accepted) == 160
