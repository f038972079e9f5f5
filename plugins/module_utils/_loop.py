# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""One selector loop in one thread: the engine's network work as coroutines, without threads.

This module is internal to the homeserver.delegation collection and may change at any time.

Why not threads: with a thread per name and per query, every wait of every DNS query and
TLS read is a sleep and a wake-up of one thread, and every hand-over of a result another;
at 500 names that cost the engine about as much CPU in the kernel as its libraries spend in
Python (``benchmarks/README.md``, "Where the CPU above the floor goes"). Here every name is
a coroutine and one loop waits for all their sockets at once (epoll), as Synapse's reactor
does. Why not asyncio: its transports, protocols and futures cost as much CPU as the threads
they replace (measured and recorded in the same README); the engine needs only readable,
writable, a deadline, and waiting for other coroutines, which is what :class:`Loop` is.

Coroutines (``async def``) await the awaitables of this module:

:func:`readable` / :func:`writable`
    a non-blocking socket is ready; ``TimeoutError`` is thrown in at ``deadline`` (a
    ``time.monotonic()`` value);
:func:`sleep`
    a number of seconds;
:func:`gather`
    every coroutine given, started at once; their results in order (the first exception of
    one of them is raised once all are done);
:func:`spawn`
    start a coroutine now, :func:`join` it later (speculative work whose answer may be
    needed);
:func:`bounded`
    run coroutines with at most a number of them at once (names resolved at once).

:func:`run` runs one coroutine on a new loop from synchronous code and returns its result;
coroutines it started and left unfinished are closed (their ``finally`` clauses run, so
their sockets close). A loop belongs to the thread that runs it; another thread may run its
own.

:class:`DnsBackend` is a dnspython asynchronous backend on this loop, so
``dns.asyncresolver`` resolves exactly as dnspython's synchronous resolver (same retries,
fallback to TCP, nameserver rotation and errors) without asyncio.

:func:`call` lets the engine use a transport whose methods are plain functions (the test
doubles of the unit tests) and one with coroutine methods (``a`` + the name: the network
transport) alike.
"""

from __future__ import annotations

import errno
import heapq
import os
import selectors
import socket
import threading
import time
from collections import deque

try:
    import dns._asyncbackend as _dns_backend
    import dns.exception
    HAS_DNS = True
except ImportError:  # pragma: no cover - the dependency check reports it
    _dns_backend = None
    HAS_DNS = False

_CURRENT = threading.local()
_IN_PROGRESS = (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY)
_ECONNREFUSED = errno.ECONNREFUSED


class _Wait:
    """What a coroutine awaits; the loop reads its fields."""

    __slots__ = ("kind", "sock", "deadline", "tasks")

    def __init__(self, kind, sock=None, deadline=None, tasks=None):
        self.kind, self.sock, self.deadline, self.tasks = kind, sock, deadline, tasks

    def __await__(self):
        return (yield self)


class Task:
    """A coroutine started on the loop; :func:`join` it for its result."""

    __slots__ = ("coro", "done", "value", "error", "waiters", "blocked_on", "token")

    def __init__(self, coro):
        self.coro, self.done, self.value, self.error = coro, False, None, None
        self.waiters, self.blocked_on, self.token = [], 0, 0

    def result(self):
        """The coroutine's return value, or raise its exception (only once done)."""
        if self.error is not None:
            raise self.error
        return self.value


class Loop:
    """Run coroutines until the first one given to :meth:`run_until` is done."""

    def __init__(self):
        self._selector = selectors.DefaultSelector()
        self._ready = deque()
        self._timers = []
        self._sequence = 0
        self._tasks = set()

    def spawn(self, coro):
        task = Task(coro)
        self._tasks.add(task)
        self._ready.append((task, None))
        return task

    def run_until(self, task):
        previous = getattr(_CURRENT, "loop", None)
        _CURRENT.loop = self
        try:
            self._run(task)
        finally:
            _CURRENT.loop = previous

    def _run(self, main):
        ready, selector, timers = self._ready, self._selector, self._timers
        while not main.done:
            while ready and not main.done:
                task, error = ready.popleft()
                self._step(task, error)
            if main.done:
                break
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                dummy, dummy, task, token, sock = heapq.heappop(timers)
                if task.token == token:  # still waiting for this
                    if sock is not None:
                        selector.unregister(sock)
                    task.token += 1
                    ready.append((task, None if sock is None else TimeoutError("the deadline passed")))
            if ready:
                continue
            if not timers and not selector.get_map():
                raise RuntimeError("every coroutine waits for another: nothing can go on")
            timeout = max(0.0, timers[0][0] - now) if timers else None
            for key, dummy in selector.select(timeout):
                task = key.data
                selector.unregister(key.fileobj)
                task.token += 1  # its timer entry is stale from now on
                ready.append((task, None))

    def _step(self, task, error):
        try:
            wait = task.coro.throw(error) if error is not None else task.coro.send(None)
        except StopIteration as stop:
            self._finish(task, stop.value, None)
            return
        except Exception as exc:  # pylint: disable=broad-except  # the task's outcome, raised by join
            self._finish(task, None, exc)
            return
        if not isinstance(wait, _Wait):
            task.coro.close()
            self._finish(task, None, RuntimeError("a coroutine awaited %r, which this loop does not run" % (wait,)))
            return
        if wait.kind == "join":
            waiting = [other for other in wait.tasks if not other.done]
            task.blocked_on = len(waiting)
            if not waiting:
                self._ready.append((task, None))
            for other in waiting:
                other.waiters.append(task)
            return
        if wait.kind != "sleep":
            self._selector.register(wait.sock, selectors.EVENT_READ if wait.kind == "read" else selectors.EVENT_WRITE,
                                    task)
        self._sequence += 1
        heapq.heappush(self._timers, (wait.deadline, self._sequence, task, task.token,
                                      None if wait.kind == "sleep" else wait.sock))

    def _finish(self, task, value, error):
        task.done, task.value, task.error = True, value, error
        self._tasks.discard(task)
        for waiter in task.waiters:
            waiter.blocked_on -= 1
            if waiter.blocked_on == 0:
                self._ready.append((waiter, None))

    def close(self):
        """Close every unfinished coroutine (its ``finally`` clauses run) and the selector."""
        for task in list(self._tasks):
            task.coro.close()
        self._tasks.clear()
        self._selector.close()


def _loop():
    loop = getattr(_CURRENT, "loop", None)
    if loop is None:
        raise RuntimeError("not in a coroutine run by homeserver.delegation's loop")
    return loop


def run(coro):
    """Run ``coro`` on a new loop in this thread; return its result or raise its exception."""
    loop = Loop()
    try:
        task = loop.spawn(coro)
        loop.run_until(task)
        return task.result()
    finally:
        loop.close()


def spawn(coro):
    """Start ``coro`` on the running loop; return its :class:`Task`."""
    return _loop().spawn(coro)


async def join(*tasks):
    """Wait until every task is done; return their results in order."""
    await _Wait("join", tasks=tasks)
    return [task.result() for task in tasks]


async def gather(*coros):
    """Run the coroutines at once; return their results in order."""
    loop = _loop()
    return await join(*[loop.spawn(coro) for coro in coros])


async def bounded(limit, coros):
    """Run the coroutines, at most ``limit`` at once, in order; their results in order."""
    coros = list(coros)
    results = [None] * len(coros)
    pending = iter(enumerate(coros))

    async def worker():
        for index, coro in pending:
            results[index] = await coro

    try:
        await gather(*[worker() for dummy in range(min(limit, len(coros)))])
    finally:
        for dummy, coro in pending:  # after an error: never started
            coro.close()
    return results


def readable(sock, deadline):
    """Await until ``sock`` can be read, or TimeoutError at ``deadline`` (monotonic)."""
    return _Wait("read", sock, deadline)


def writable(sock, deadline):
    """Await until ``sock`` can be written, or TimeoutError at ``deadline`` (monotonic)."""
    return _Wait("write", sock, deadline)


def sleep(seconds):
    """Await ``seconds``."""
    return _Wait("sleep", None, time.monotonic() + max(0.0, seconds))


async def call(transport, name, /, *args, **kwargs):
    """``transport.a<name>(...)`` when the transport has it (awaited), else
    ``transport.<name>(...)`` (a plain call, which may block this loop: test doubles)."""
    coroutine = getattr(transport, "a" + name, None)
    if coroutine is not None:
        return await coroutine(*args, **kwargs)
    return getattr(transport, name)(*args, **kwargs)


def with_plain_methods(*names):
    """Class decorator: for each of ``names``, a plain method that runs the coroutine method
    ``a`` + name on a loop of its own (for synchronous callers of a transport)."""
    def decorate(cls):
        for name in names:
            def plain(self, *args, _name="a" + name, **kwargs):
                return run(getattr(self, _name)(*args, **kwargs))
            plain.__name__ = name
            plain.__doc__ = "``%s`` from synchronous code (on a loop of its own)." % ("a" + name)
            setattr(cls, name, plain)
        return cls
    return decorate


TRANSPORT_METHODS = ("query_srv", "query_address", "https_get", "probe_federation")


# --- dnspython on this loop -------------------------------------------------------------------


def _deadline(timeout):
    return time.monotonic() + (timeout if timeout is not None else 3600.0)


if HAS_DNS:
    class _Socket:
        """The non-blocking socket under one of dnspython's asynchronous sockets."""

        def __init__(self, sock):
            self.sock = sock
            self.family, self.type = sock.family, sock.type

        async def close(self):
            self.sock.close()

        async def getpeername(self):
            return self.sock.getpeername()

        async def getsockname(self):
            return self.sock.getsockname()

        async def getpeercert(self, timeout):
            raise NotImplementedError

        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc_info):
            self.sock.close()

        async def _io(self, operation, ready, timeout):
            deadline = _deadline(timeout)
            while True:
                try:
                    return operation()
                except (BlockingIOError, InterruptedError):
                    pass
                try:
                    await ready(self.sock, deadline)
                except TimeoutError:
                    raise dns.exception.Timeout(timeout=timeout)

    class _DatagramSocket(_Socket, _dns_backend.DatagramSocket):
        async def sendto(self, what, destination, timeout):
            if destination is None:
                return await self._io(lambda: self.sock.send(what), writable, timeout)
            return await self._io(lambda: self.sock.sendto(what, destination), writable, timeout)

        async def recvfrom(self, size, timeout):
            return await self._io(lambda: self.sock.recvfrom(size), readable, timeout)

    class _StreamSocket(_Socket, _dns_backend.StreamSocket):
        async def sendall(self, what, timeout):
            view = memoryview(what)
            while view:
                view = view[await self._io(lambda: self.sock.send(view), writable, timeout):]

        async def recv(self, size, timeout):
            return await self._io(lambda: self.sock.recv(size), readable, timeout)

    class DnsBackend(_dns_backend.Backend):
        """dnspython's asynchronous backend interface on this module's loop (UDP and TCP)."""

        def name(self):
            return "homeserver.delegation"

        async def make_socket(self, af, socktype, proto=0, source=None, destination=None, timeout=None,
                              ssl_context=None, server_hostname=None):
            if ssl_context is not None:
                raise NotImplementedError("DNS over TLS is not used by the collection")
            sock = socket.socket(af, socktype, proto)
            try:
                sock.setblocking(False)
                if source is not None:
                    sock.bind(source)
                if socktype == socket.SOCK_DGRAM:
                    if destination is not None:
                        sock.connect(destination)
                    return _DatagramSocket(sock)
                await connect(sock, destination, _deadline(timeout), dns.exception.Timeout(timeout=timeout))
                return _StreamSocket(sock)
            except BaseException:
                sock.close()
                raise

        def datagram_connection_required(self):
            return False

        async def sleep(self, interval):
            await sleep(interval)

        def get_transport_class(self):
            raise NotImplementedError("DNS over HTTPS is not used by the collection")

        async def wait_for(self, awaitable, timeout):
            raise NotImplementedError("not used by dnspython's resolver")
else:  # pragma: no cover - the dependency check reports it
    DnsBackend = None


async def connect(sock, address, deadline, timeout_error=None):
    """Connect the non-blocking ``sock`` to ``address`` by ``deadline``; raise OSError (or
    ``timeout_error`` when given, at the deadline)."""
    code = sock.connect_ex(address)
    if code == 0:
        return
    if code not in _IN_PROGRESS:
        raise OSError(code, os.strerror(code))
    try:
        await writable(sock, deadline)
    except TimeoutError:
        if timeout_error is not None:
            raise timeout_error
        raise
    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code:
        error = ConnectionRefusedError if code == _ECONNREFUSED else OSError
        raise error(code, os.strerror(code))
