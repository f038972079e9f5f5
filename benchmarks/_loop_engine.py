"""Experiment: server discovery as coroutines on one selector loop, without threads.

Not the engine. Issue 15 asks whether the engine's CPU per name can come within 1.25x of its
libraries' floor; the profile (README, "Where the CPU above the floor goes") put the excess in
the thread switches of one thread per name and per query, and dnspython's asynchronous
resolver on an asyncio loop beside the threads did not remove it. This module measures the
other design before anything is rewritten: every name's resolution is a coroutine, and one
loop in one thread drives all of them on non-blocking sockets, as Synapse's reactor does.

It follows the specification's steps (well-known over HTTPS on port 443 of the name's
addresses, m.server, an explicit port, SRV `_matrix-fed._tcp` then `_matrix._tcp`, the
default port 8448, the addresses of the chosen host) with the same libraries as the floor:
dnspython to build and parse DNS messages, Python's ssl module for TLS (verified, SNI),
http.client to parse the response, the collection's server-name parser. It keeps one step
text per decision, as the engine's trace does. It leaves out what a product needs and the
benchmark's lab does not exercise: redirects, DNS over TCP on truncation, several
nameservers, the engine's problems and reports. Those are the engine's own Python, 6 % of
its profile; what this measures is the I/O design under it.
"""

from __future__ import annotations

import errno
import heapq
import http.client
import io
import json
import selectors
import socket
import ssl
import time
from collections import deque

import dns.exception
import dns.flags
import dns.message
import dns.rdatatype

from ansible_collections.homeserver.delegation.plugins.module_utils._https_client import (
    USER_AGENT, verifying_context)
from ansible_collections.homeserver.delegation.plugins.module_utils._server_name import (
    ServerNameError, parse_server_name)

#: Resend a UDP query that has no answer after this long (the engine's DNS_RETRY_SECONDS).
DNS_RETRY_SECONDS = 2.0
WELL_KNOWN_MAX_BYTES = 51200


class _Wait:
    """What a coroutine awaits: a socket readable ('r') or writable ('w') before ``deadline``
    (TimeoutError is thrown in at the deadline), or every task of ``tasks`` done ('join')."""

    __slots__ = ('what', 'sock', 'deadline', 'tasks')

    def __init__(self, what, sock=None, deadline=None, tasks=None):
        self.what, self.sock, self.deadline, self.tasks = what, sock, deadline, tasks

    def __await__(self):
        return (yield self)


class _Task:
    __slots__ = ('coro', 'done', 'value', 'error', 'waiters', 'blocked_on', 'token')

    def __init__(self, coro):
        self.coro, self.done, self.value, self.error = coro, False, None, None
        self.waiters, self.blocked_on, self.token = [], 0, 0

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value


class Loop:
    """One thread, one epoll selector, a heap of deadlines; runs until no task is left."""

    def __init__(self):
        self._selector = selectors.DefaultSelector()
        self._ready = deque()
        self._timers = []
        self._sequence = 0
        self._pending = 0

    def spawn(self, coro):
        task = _Task(coro)
        self._pending += 1
        self._ready.append((task, None))
        return task

    async def gather(self, *coros):
        tasks = [self.spawn(coro) for coro in coros]
        await _Wait('join', tasks=tasks)
        return [task.result() for task in tasks]

    def run(self):
        ready, selector, timers = self._ready, self._selector, self._timers
        while self._pending:
            while ready:
                task, error = ready.popleft()
                self._step(task, error)
            if not self._pending:
                break
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                dummy, dummy, task, token, sock = heapq.heappop(timers)
                if task.token == token:  # still waiting on that socket
                    selector.unregister(sock)
                    task.token += 1
                    ready.append((task, TimeoutError('deadline')))
            if ready:
                continue
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
        except Exception as exc:  # pylint: disable=broad-except  # the task's outcome
            self._finish(task, None, exc)
            return
        if wait.what == 'join':
            waiting = [other for other in wait.tasks if not other.done]
            task.blocked_on = len(waiting)
            if not waiting:
                self._ready.append((task, None))
            for other in waiting:
                other.waiters.append(task)
            return
        self._selector.register(wait.sock, selectors.EVENT_READ if wait.what == 'r' else selectors.EVENT_WRITE,
                                task)
        self._sequence += 1
        heapq.heappush(self._timers, (wait.deadline, self._sequence, task, task.token, wait.sock))

    def _finish(self, task, value, error):
        task.done, task.value, task.error = True, value, error
        self._pending -= 1
        for waiter in task.waiters:
            waiter.blocked_on -= 1
            if waiter.blocked_on == 0:
                self._ready.append((waiter, None))


class _Raw:
    """What http.client.HTTPResponse reads a complete response from."""

    def __init__(self, data):
        self._data = data

    def makefile(self, _mode):
        return io.BytesIO(self._data)


class LoopDiscovery:
    """Resolve names on one loop; ``options`` as the benchmark's transport options."""

    def __init__(self, options):
        self.nameserver = (options['nameservers'][0], int(options.get('dns_port', 53)))
        self.timeout = float(options.get('timeout', 10))
        self.context = verifying_context(options.get('ca_path'))
        self.loop = Loop()

    # --- DNS ---------------------------------------------------------------------------

    async def _query(self, qname, rdtype, deadline):
        """One DNS query over UDP, resent every DNS_RETRY_SECONDS; the response message."""
        query = dns.message.make_query(qname, rdtype)
        wire = query.to_wire()
        sock = socket.socket(socket.AF_INET6 if ':' in self.nameserver[0] else socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            sock.connect(self.nameserver)
            while True:
                sock.send(wire)
                resend = min(deadline, time.monotonic() + DNS_RETRY_SECONDS)
                try:
                    while True:
                        await _Wait('r', sock, resend)
                        try:
                            data = sock.recv(65535)
                        except BlockingIOError:
                            continue
                        try:
                            response = dns.message.from_wire(data)
                        except dns.exception.DNSException:
                            continue  # not an answer to this query: keep waiting
                        if query.is_response(response):
                            return response
                except TimeoutError:
                    if time.monotonic() >= deadline:
                        raise
        finally:
            sock.close()

    async def addresses(self, host, deadline, steps):
        """AAAA and A of ``host`` at once, following CNAMEs; the addresses, IPv6 first."""
        found = []
        for family, response in zip(('AAAA', 'A'), await self.loop.gather(
                self._query(host, 'AAAA', deadline), self._query(host, 'A', deadline))):
            rdtype = dns.rdatatype.from_text(family)
            chain = response.resolve_chaining()
            if chain.answer is not None and chain.answer.rdtype == rdtype:
                found.extend(rdata.address for rdata in chain.answer)
        steps.append('resolved %s: %s' % (host, ', '.join(found) or 'no address'))
        return found

    async def srv(self, host, deadline, steps):
        """The records of ``_matrix-fed._tcp.<host>``, else ``_matrix._tcp.<host>``."""
        for service in ('_matrix-fed._tcp.', '_matrix._tcp.'):
            response = await self._query(service + host, 'SRV', deadline)
            records = [(rdata.priority, -rdata.weight, rdata.target.to_text().rstrip('.'), rdata.port)
                       for rrset in response.answer if rrset.rdtype == dns.rdatatype.SRV for rdata in rrset]
            steps.append('SRV %s%s -> %d record(s)' % (service, host, len(records)))
            if records:
                return sorted(records)
        return []

    # --- HTTPS -------------------------------------------------------------------------

    async def https_get(self, address, port, tls_name, host_header, path, max_bytes, deadline):
        """One verified GET on a connection of its own; (status, headers, body)."""
        sock = socket.socket(socket.AF_INET6 if ':' in address else socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        tls = None
        try:
            code = sock.connect_ex((address, port))
            if code not in (0, errno.EINPROGRESS):
                raise OSError(code, 'connect')
            await _Wait('w', sock, deadline)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, 'connect')
            tls = self.context.wrap_socket(sock, server_hostname=tls_name, do_handshake_on_connect=False)
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    await _Wait('r', tls, deadline)
                except ssl.SSLWantWriteError:
                    await _Wait('w', tls, deadline)
            request = ('GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: application/json\r\n\r\n'
                       % (path, host_header, USER_AGENT)).encode('ascii')
            while request:
                try:
                    request = request[tls.send(request):]
                except ssl.SSLWantWriteError:
                    await _Wait('w', tls, deadline)
                except ssl.SSLWantReadError:
                    await _Wait('r', tls, deadline)
            data, wanted = bytearray(), None
            while wanted is None or len(data) < wanted:
                try:
                    chunk = tls.recv(65536)
                except ssl.SSLWantReadError:
                    await _Wait('r', tls, deadline)
                    continue
                except ssl.SSLEOFError:
                    chunk = b''
                if not chunk:
                    break
                data += chunk
                if wanted is None:
                    wanted = _complete_length(data, max_bytes)
            response = http.client.HTTPResponse(_Raw(bytes(data)))
            response.begin()
            return response.status, response.getheaders(), response.read(max_bytes)
        finally:
            (tls or sock).close()

    # --- the steps ---------------------------------------------------------------------

    async def resolve(self, server_name):
        """(targets as (host, port, address), steps) for one name; raises on failure."""
        deadline = time.monotonic() + self.timeout
        steps = []
        try:
            name = parse_server_name(server_name)
        except ServerNameError as exc:
            raise LookupError(str(exc))
        if name.is_ip_literal:
            return [(name.bare_host, name.port_or_default, name.bare_host)], steps
        host = name.lookup_name
        if name.port is not None:
            return await self._host_targets(host, name.port, deadline, steps), steps
        delegated = await self._well_known(host, deadline, steps)
        if delegated is not None:
            steps.append('m.server %s' % delegated)
            if delegated.is_ip_literal:
                return [(delegated.bare_host, delegated.port_or_default, delegated.bare_host)], steps
            if delegated.port is not None:
                return await self._host_targets(delegated.lookup_name, delegated.port, deadline, steps), steps
            host = delegated.lookup_name
        records = await self.srv(host, deadline, steps)
        if not records:
            return await self._host_targets(host, 8448, deadline, steps), steps
        hosts = list(dict.fromkeys(target for dummy, dummy, target, dummy in records))
        found = dict(zip(hosts, await self.loop.gather(*(self.addresses(target, deadline, steps)
                                                          for target in hosts))))
        targets = [(target, port, address) for dummy, dummy, target, port in records for address in found[target]]
        if not targets:
            raise LookupError('no SRV target of %s has an address' % host)
        return targets, steps

    async def _host_targets(self, host, port, deadline, steps):
        addresses = await self.addresses(host, deadline, steps)
        if not addresses:
            raise LookupError('%s has no address' % host)
        return [(host, port, address) for address in addresses]

    async def _well_known(self, host, deadline, steps):
        """The delegated server name of ``host``'s well-known, or None."""
        for address in await self.addresses(host, deadline, steps):
            try:
                status, dummy, body = await self.https_get(address, 443, host, host, '/.well-known/matrix/server',
                                                           WELL_KNOWN_MAX_BYTES, deadline)
            except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
                steps.append('well-known from %s: %s' % (address, exc))
                continue
            steps.append('well-known from %s: HTTP %d' % (address, status))
            if status != 200:
                return None
            try:
                document = json.loads(body)
                return parse_server_name(document['m.server'], 'm.server')
            except (ValueError, KeyError, TypeError, ServerNameError):
                return None
        return None

    # --- all names ---------------------------------------------------------------------

    def resolve_many(self, names):
        """Resolve all names at once; a list of (targets, steps) or the exception."""
        async def one(name):
            try:
                return await self.resolve(name)
            except (LookupError, OSError, ssl.SSLError, TimeoutError, dns.exception.DNSException) as exc:
                return exc
        tasks = [self.loop.spawn(one(name)) for name in names]
        self.loop.run()
        return [task.result() for task in tasks]


def _complete_length(data, max_bytes):
    """The length the response will have once complete, when its head is in ``data`` and says
    (Content-Length); None while the head is incomplete or without a length (read to EOF)."""
    end = data.find(b'\r\n\r\n')
    if end < 0:
        return None
    for line in bytes(data[:end]).split(b'\r\n')[1:]:
        key, dummy, value = line.partition(b':')
        if key.strip().lower() == b'content-length' and value.strip().isdigit():
            return end + 4 + min(int(value), max_bytes)
    return 1 << 62
