# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's loop: deadlines, coroutines waiting for each other, closing what is left, and
dnspython's resolver on it (socket pairs and a UDP/TCP responder on loopback, no lab)."""

from __future__ import annotations

import socket
import threading
import time

import dns.asyncresolver
import dns.exception
import dns.message
import dns.rrset
import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils import _loop
from ansible_collections.homeserver.delegation.plugins.module_utils._deadline import RequestDeadline


def test_a_read_fed_one_byte_at_a_time_ends_at_the_deadline():
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            try:
                peer.send(b"x")
            except OSError:
                return
            time.sleep(0.05)

    async def read_all(deadline):
        received = b""
        while True:
            await _loop.readable(ours, deadline.at)
            received += ours.recv(1)

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    deadline = RequestDeadline(0.5)
    try:
        with pytest.raises(TimeoutError):
            _loop.run(read_all(deadline))
        assert deadline.expired
        assert deadline.remaining() == 0
    finally:
        stop.set()
        feeder.join(5)
        ours.close()
        peer.close()


def test_coroutines_run_at_once_one_waiting_for_what_the_other_sends():
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    deadline = time.monotonic() + 5

    async def receive():
        await _loop.readable(ours, deadline)
        return ours.recv(10)

    async def send():
        peer.send(b"hello")
        return "sent"

    try:
        # One after the other, receive() would wait until its deadline and raise.
        assert _loop.run(_loop.gather(receive(), send())) == [b"hello", "sent"]
    finally:
        ours.close()
        peer.close()


def test_ten_thousand_coroutines_each_waiting_for_the_next_finish():
    """No pool to exhaust: any number of waiting coroutines can wait on the one loop."""
    async def chain(depth):
        if depth == 0:
            await _loop.sleep(0.01)
            return 0
        (below,) = await _loop.join(_loop.spawn(chain(depth - 1)))
        return below + 1

    async def many():
        return await _loop.gather(*[chain(9) for dummy in range(1000)])

    assert _loop.run(many()) == [9] * 1000


def test_the_first_error_is_raised_once_every_coroutine_is_done():
    finished = []

    async def fails():
        raise ValueError("bad answer")

    async def slow():
        await _loop.sleep(0.05)
        finished.append("slow")
        return "slow"

    with pytest.raises(ValueError, match="bad answer"):
        _loop.run(_loop.gather(fails(), slow()))
    assert finished == ["slow"]


def test_what_a_run_leaves_unfinished_is_closed_and_its_finally_runs():
    closed = []

    async def speculative():
        try:
            await _loop.sleep(30)
        finally:
            closed.append("closed")

    async def main():
        _loop.spawn(speculative())
        await _loop.sleep(0.01)  # the speculative coroutine is waiting by now
        return "answer"

    started = time.monotonic()
    assert _loop.run(main()) == "answer"
    assert closed == ["closed"]
    assert time.monotonic() - started < 5  # the speculative sleep was not waited for


def test_a_coroutine_that_waits_for_itself_is_reported_not_hung():
    async def waits_for_itself():
        task = _loop.spawn(_loop.join(holder[0]))
        holder.append(task)
        await _loop.join(task)

    holder = []

    async def main():
        holder.append(_loop.spawn(waits_for_itself()))
        await _loop.join(holder[0])

    with pytest.raises(RuntimeError, match="waits for another"):
        _loop.run(main())


def test_an_awaitable_of_another_loop_is_an_error_not_a_hang():
    class Foreign:
        def __await__(self):
            return (yield "an asyncio future")

    async def waits_for_asyncio():
        await Foreign()

    with pytest.raises(RuntimeError, match="does not run"):
        _loop.run(waits_for_asyncio())


def test_a_coroutine_awaiting_outside_the_loop_is_refused():
    with pytest.raises(RuntimeError, match="not in a coroutine"):
        _loop.spawn(_loop.sleep(0))


def test_a_transport_without_coroutines_is_called_directly():
    class Plain:
        def query_srv(self, name):
            return "plain " + name

    class Asynchronous(Plain):
        async def aquery_srv(self, name):
            await _loop.sleep(0)
            return "awaited " + name

    assert _loop.run(_loop.call(Plain(), "query_srv", "x")) == "plain x"
    assert _loop.run(_loop.call(Asynchronous(), "query_srv", "x")) == "awaited x"


# --- dnspython's resolver on the loop ---------------------------------------------------------


class _Responder:
    """Answers A queries for ``name`` on UDP and TCP of one loopback port; ``drop`` UDP queries
    are ignored first; ``truncate`` sets TC on UDP answers (the client must retry over TCP)."""

    def __init__(self, drop=0, truncate=False):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(4)
        self.drop, self.truncate, self.seen = drop, truncate, []
        for target in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=target, daemon=True).start()

    def _answer(self, wire, over):
        query = dns.message.from_wire(wire)
        self.seen.append(over)
        response = dns.message.make_response(query)
        response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.7"))
        if over == "udp" and self.truncate:
            response.flags |= dns.flags.TC
            response.answer = []
        return response.to_wire()

    def _serve_udp(self):
        while True:
            try:
                wire, peer = self.udp.recvfrom(4096)
            except OSError:
                return
            if self.drop:
                self.drop -= 1
                self.seen.append("dropped")
                continue
            self.udp.sendto(self._answer(wire, "udp"), peer)

    def _serve_tcp(self):
        while True:
            try:
                connection, _peer = self.tcp.accept()
            except OSError:
                return
            with connection:
                length = int.from_bytes(connection.recv(2), "big")
                wire = connection.recv(length)
                answer = self._answer(wire, "tcp")
                connection.sendall(len(answer).to_bytes(2, "big") + answer)

    def close(self):
        self.udp.close()
        self.tcp.close()


def _resolver(port, timeout):
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port, resolver.timeout, resolver.lifetime = port, timeout, 3.0
    return resolver


def _addresses(resolver):
    answer = _loop.run(resolver.resolve("host.test.", "A", backend=_loop.DnsBackend()))
    return [rdata.address for rdata in answer.rrset]


@pytest.mark.parametrize("drop, truncate, seen", [
    pytest.param(0, False, ["udp"], id="answered"),
    pytest.param(1, False, ["dropped", "udp"], id="lost-query-resent"),
    pytest.param(0, True, ["udp", "tcp"], id="truncated-retried-over-tcp"),
])
def test_dnspythons_resolver_resolves_on_the_loop(drop, truncate, seen):
    responder = _Responder(drop=drop, truncate=truncate)
    try:
        assert _addresses(_resolver(responder.port, 0.3)) == ["192.0.2.7"]
    finally:
        responder.close()
    assert responder.seen == seen


def test_a_nameserver_that_never_answers_is_dnspythons_timeout():
    responder = _Responder(drop=1000)
    started = time.monotonic()
    try:
        with pytest.raises(dns.exception.Timeout):
            _addresses(_resolver(responder.port, 0.2))
    finally:
        responder.close()
    assert 2.5 < time.monotonic() - started < 10  # the lifetime, 3 s, not one try
