# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""One overall deadline for a network request, whatever the server sends.

A socket timeout bounds each read, not the request: a server that sends one byte per second
(during the TLS handshake, in the headers or in the body) never lets a read time out. A
:class:`RequestDeadline` fixes the moment the whole request (connect, TLS handshake, headers,
body) must be done; every socket the request opens is handed to :meth:`RequestDeadline.watch`,
and when the deadline passes one shared watchdog thread shuts those sockets down, which ends
any read blocked on them at once. The caller then sees :attr:`RequestDeadline.expired` and
reports a timeout, whatever error (or short read) the shutdown caused.

The watchdog keeps a duplicate of each watched socket's descriptor, so it never acts on a
descriptor number the request has closed and the system has handed to another socket; the
duplicate is closed by :meth:`RequestDeadline.close`, which the request calls when it ends.

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time


class RequestDeadline:
    """A deadline ``seconds`` from now for one request; use as a context manager."""

    def __init__(self, seconds, clock=time.monotonic):
        self.seconds = float(seconds)
        self._clock = clock
        self.expires_at = clock() + self.seconds
        self._lock = threading.Lock()
        self._watched = []
        self._fired = False
        self._closed = False
        self._scheduled = False

    def remaining(self):
        """Seconds left before the deadline (0 when it has passed)."""
        return max(0.0, self.expires_at - self._clock())

    @property
    def expired(self):
        """Whether the deadline has passed.

        A socket timeout of the same length can end a read a moment before the watcher shuts
        the sockets down: the clock, not only the watcher, decides.
        """
        return self._fired or self.remaining() <= 0

    def watch(self, sock):
        """Shut ``sock`` down when the deadline passes (at once if it already has)."""
        with self._lock:
            if self._closed:
                return
            duplicate = sock.dup()
            self._watched.append(duplicate)
            fire_now = self._fired or self.remaining() <= 0
            if fire_now:
                self._fired = True
                _shutdown(duplicate)
            elif not self._scheduled:
                self._scheduled = True
                _WATCHDOG.schedule(self)

    def fire(self):
        """Shut every watched socket down (called by the watchdog at the deadline)."""
        with self._lock:
            if self._closed:
                return
            self._fired = True
            for duplicate in self._watched:
                _shutdown(duplicate)

    def close(self):
        """The request is over: stop watching and release the duplicated descriptors."""
        with self._lock:
            self._closed = True
            watched, self._watched = self._watched, []
        for duplicate in watched:
            duplicate.close()

    @property
    def closed(self):
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _shutdown(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected (any more): nothing is blocked on it


class _Watchdog:
    """One daemon thread that fires deadlines in time order."""

    def __init__(self):
        self._condition = threading.Condition()
        self._heap = []
        self._order = itertools.count()
        self._thread = None

    def schedule(self, deadline):
        with self._condition:
            heapq.heappush(self._heap, (deadline.expires_at, next(self._order), deadline))
            # A forked process (Ansible's workers) does not inherit the thread: start it again.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="request-deadlines", daemon=True)
                self._thread.start()
            self._condition.notify()

    def _run(self):
        while True:
            with self._condition:
                while self._heap and self._heap[0][2].closed:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._condition.wait()
                    continue
                expires_at, dummy, deadline = self._heap[0]
                wait = expires_at - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._heap)
            deadline.fire()


_WATCHDOG = _Watchdog()
