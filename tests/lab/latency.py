"""Simulated wide-area round-trip time, injected in user space (internal to the test lab).

`tc netem` is not available here, so latency is added by relays on loopback:

* `DelayingDnsForwarder`: a DNS server (UDP and TCP) that forwards every query to the real
  BIND and holds each answer back for `rtt` seconds: one query costs one round trip.
* `DelayingTcpProxy`: accepts connections on one address and relays them to another. It
  connects upstream only after `rtt` (the TCP handshake's round trip) and delays every chunk
  by `rtt / 2` in each direction, in order, without serialising them: a TLS handshake and
  an HTTP exchange each cost one round trip, as on a real link.

Both run on one asyncio loop in a background thread (`LatencyInjector`), bound the number of
connections they hold, and stop by themselves after `lifetime` seconds even if nobody calls
stop(), so an aborted benchmark leaves nothing behind.

    with LatencyInjector(rtt=0.050, lifetime=900) as latency:
        latency.dns_forwarder(('127.77.0.55', 53), (bind.address, 53))
        latency.tcp_proxy(('127.77.0.120', 443), ('127.77.0.20', 443))
        ...
"""

from __future__ import annotations

import asyncio
import collections
import socket
import threading
import time

_CHUNK = 65536


class _DelayedPipe:
    """Copies reader -> writer, each chunk written `delay` seconds after it was read."""

    def __init__(self, reader, writer, delay: float, not_before: float = 0.0):
        self.reader = reader
        self.writer = writer
        self.delay = delay
        self.not_before = not_before
        self.queue: collections.deque = collections.deque()
        self.ready = asyncio.Event()

    async def _read(self, loop) -> None:
        try:
            while True:
                data = await self.reader.read(_CHUNK)
                due = max(loop.time(), self.not_before) + self.delay
                self.queue.append((due, data))
                self.ready.set()
                if not data:
                    return
        except (ConnectionError, OSError):
            self.queue.append((loop.time(), b''))
            self.ready.set()

    async def _write(self, loop) -> None:
        while True:
            while not self.queue:
                self.ready.clear()
                await self.ready.wait()
            due, data = self.queue.popleft()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if self.writer.can_write_eof():
                    self.writer.write_eof()
                return
            self.writer.write(data)
            await self.writer.drain()

    async def run(self) -> None:
        """Copy until end of file on the reader."""
        loop = asyncio.get_running_loop()
        await _all_or_cancel([self._read(loop), self._write(loop)])


class LatencyInjector:
    """An asyncio loop in a thread, hosting delaying relays until stop() or `lifetime`."""

    def __init__(self, rtt: float = 0.050, lifetime: float = 900, max_connections: int = 4096,
                 idle_timeout: float = 60):
        self.rtt = rtt
        self.lifetime = lifetime
        self.idle_timeout = idle_timeout
        self._max_connections = max_connections
        self._loop = asyncio.new_event_loop()
        self._servers: list = []
        self._transports: list = []
        self._tasks: set = set()
        self._thread = threading.Thread(target=self._run, name='latency', daemon=True)
        self._stopped = threading.Event()
        self._semaphore: asyncio.Semaphore | None = None
        self.connections = 0
        self.queries = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._semaphore = asyncio.Semaphore(self._max_connections)
        self._loop.call_later(self.lifetime, self._shutdown)
        self._loop.run_forever()
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()
        self._stopped.set()

    def start(self) -> LatencyInjector:
        """Start the loop thread."""
        self._thread.start()
        while self._semaphore is None:
            time.sleep(0.01)
        return self

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)

    # TCP ------------------------------------------------------------------------------------

    async def _relay(self, client_reader, client_writer, upstream, one_way: float,
                     connect_delay: float, back_only: bool) -> None:
        try:
            await self._relay_connection(client_reader, client_writer, upstream, one_way,
                                         connect_delay, back_only)
        except asyncio.CancelledError:
            client_writer.close()  # shutting down: the client sees its connection close

    async def _relay_connection(self, client_reader, client_writer, upstream, one_way: float,
                                connect_delay: float, back_only: bool) -> None:
        self.connections += 1
        async with self._semaphore:
            loop = asyncio.get_running_loop()
            connected_at = loop.time() + connect_delay
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(*upstream)
            except OSError:
                client_writer.close()
                return
            forward = _DelayedPipe(client_reader, upstream_writer, 0 if back_only else one_way,
                                   not_before=connected_at)
            backward = _DelayedPipe(upstream_reader, client_writer, one_way * (2 if back_only else 1))
            try:
                await _all_or_cancel([forward.run(), backward.run()], self.idle_timeout)
            finally:
                for writer in (upstream_writer, client_writer):
                    writer.close()

    def tcp_proxy(self, listen: tuple[str, int], upstream: tuple[str, int]) -> None:
        """Relay TCP from `listen` to `upstream` with the connection set-up and one-way delays."""
        async def handle(reader, writer):
            await self._relay(reader, writer, upstream, self.rtt / 2, self.rtt, back_only=False)

        async def open_server():
            self._servers.append(await asyncio.start_server(handle, *listen, backlog=1024,
                                                            reuse_address=True))
        self._call(open_server())

    # DNS ------------------------------------------------------------------------------------

    def dns_forwarder(self, listen: tuple[str, int], upstream: tuple[str, int]) -> None:
        """Answer DNS on `listen` (UDP and TCP) from `upstream`, each answer `rtt` late."""
        injector = self

        class Forwarder(asyncio.DatagramProtocol):
            """UDP: one upstream socket per query, so ids from many clients never clash."""

            def __init__(self):
                self.transport = None

            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                task = asyncio.ensure_future(self.forward(data, addr))
                injector._tasks.add(task)
                task.add_done_callback(injector._tasks.discard)

            async def forward(self, data, addr):
                injector.queries += 1
                loop = asyncio.get_running_loop()
                started = loop.time()
                answer = await _udp_exchange(data, upstream)
                if answer is None:
                    return  # upstream silent: the client times out, as it would
                await asyncio.sleep(max(0.0, started + injector.rtt - loop.time()))
                self.transport.sendto(answer, addr)

        async def handle_tcp(reader, writer):
            # One round trip to connect, then each answer one round trip late.
            await self._relay(reader, writer, upstream, self.rtt / 2, self.rtt, back_only=True)

        async def open_servers():
            loop = asyncio.get_running_loop()
            udp = socket.socket(socket.AF_INET6 if ':' in listen[0] else socket.AF_INET, socket.SOCK_DGRAM)
            # Hundreds of names send thousands of queries at once: a default-sized receive
            # buffer would drop some, and a dropped query costs the client its whole timeout.
            _large_receive_buffer(udp)
            udp.bind(listen)
            transport, _protocol = await loop.create_datagram_endpoint(Forwarder, sock=udp)
            self._transports.append(transport)
            self._servers.append(await asyncio.start_server(handle_tcp, *listen, backlog=1024,
                                                            reuse_address=True))
        self._call(open_servers())

    # Lifecycle ------------------------------------------------------------------------------

    def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        for transport in self._transports:
            transport.close()
        pending = [task for task in asyncio.all_tasks(self._loop) if not task.done()]
        for task in pending:
            task.cancel()

        async def drain():
            await asyncio.gather(*pending, return_exceptions=True)
            self._loop.stop()
        self._loop.create_task(drain())

    def stop(self) -> None:
        """Close every listener, end every relay, and stop the loop thread."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._shutdown)
            self._thread.join(10)

    def __enter__(self) -> LatencyInjector:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _large_receive_buffer(sock: socket.socket, size: int = 16 * 1024 * 1024) -> None:
    try:
        # SO_RCVBUFFORCE (33 on Linux, not exported by Python): root may exceed rmem_max.
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, 'SO_RCVBUFFORCE', 33), size)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


async def _all_or_cancel(coroutines, timeout: float | None = None) -> None:
    """Run the coroutines until all end (or `timeout`, or we are cancelled); cancel the rest.

    Errors of the relays (a peer resetting its connection) end the relay, nothing more.
    """
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        await asyncio.wait(tasks, timeout=timeout)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: a reset connection is not worth a warning


async def _udp_exchange(data: bytes, upstream: tuple[str, int], timeout: float = 5) -> bytes | None:
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ':' in upstream[0] else socket.AF_INET
    answered: asyncio.Future = loop.create_future()

    class Once(asyncio.DatagramProtocol):
        """Takes the first answer."""

        def datagram_received(self, data, addr):
            if not answered.done():
                answered.set_result(data)

        def error_received(self, exc):
            if not answered.done():
                answered.set_result(None)

    transport, _protocol = await loop.create_datagram_endpoint(Once, remote_addr=upstream, family=family)
    try:
        transport.sendto(data)
        return await asyncio.wait_for(answered, timeout)
    except asyncio.TimeoutError:
        return None
    finally:
        transport.close()
