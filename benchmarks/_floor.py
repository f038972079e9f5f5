"""The libraries' floor: the CPU one name costs when only its network calls are made.

A resolution is made of DNS queries (dnspython) and HTTPS requests (Python's ssl module, and
http.client to read the response); federation_check adds one TLS connection with two GETs
per target address. Made one after the other in one thread with the libraries' own blocking
calls (:class:`LibraryCalls`: dnspython's synchronous resolver, a blocking ssl socket,
http.client's connection; not the collection's client or loop), straight to the lab's
servers (no relays, no engine: no traces, reports or problems), their CPU is the least a
client written directly on these libraries spends per name. Each benchmark measures it in
the same run as the engine (same process, same lab), so the ratio compares like with like;
the benchmarks' README records both.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time

import dns.resolver


class LibraryCalls:
    """The calls of a resolution made with the libraries alone, blocking, one after the other.

    ``options``: the lab's ``nameservers``, ``dns_port`` and ``ca_path``."""

    def __init__(self, options: dict):
        self.resolver = dns.resolver.Resolver(configure=False)
        self.resolver.nameservers = list(options['nameservers'])
        self.resolver.port = int(options.get('dns_port', 53))
        self.context = ssl.create_default_context(cafile=options['ca_path'])

    def query_address(self, host: str, family: str):
        return self.resolver.resolve(host, family, search=False, raise_on_no_answer=False)

    def query_srv(self, name: str):
        return self.resolver.resolve(name, 'SRV', search=False, raise_on_no_answer=False)

    def _connection(self, address: str, port: int, tls_name: str) -> http.client.HTTPSConnection:
        connection = http.client.HTTPSConnection(address, port, timeout=10, context=self.context)
        raw = socket.create_connection((address, port), 10)
        connection.sock = self.context.wrap_socket(raw, server_hostname=tls_name)
        return connection

    def https_get(self, address: str, port: int, path: str, host_header: str, tls_name: str, max_bytes: int):
        connection = self._connection(address, port, tls_name)
        try:
            connection.request('GET', path, headers={'Host': host_header})
            return connection.getresponse().read(max_bytes)
        finally:
            connection.close()

    def probe_federation(self, address: str, port: int, tls_name: str, host_header: str, paths: list[str]):
        connection = self._connection(address, port, tls_name)
        try:
            bodies = []
            for path in paths:
                connection.request('GET', path, headers={'Host': host_header})
                bodies.append(connection.getresponse().read(262144))
            return bodies
        finally:
            connection.close()


#: Names whose calls are measured (the floor is per name; more only lengthens the run).
SAMPLE = 100


def floor_per_name(steps_of_name, names: list[str]) -> dict:
    """CPU and wall milliseconds per name of ``steps_of_name(name)`` (a list of callables),
    run for up to SAMPLE names one after the other, after one warm-up name."""
    sample = names[:SAMPLE]
    for step in steps_of_name(sample[0]):
        step()
    cpu, wall = time.process_time(), time.monotonic()
    calls = 0
    for name in sample:
        for step in steps_of_name(name):
            step()
            calls += 1
    return {'cpu_ms_per_name': (time.process_time() - cpu) * 1000 / len(sample),
            'wall_ms_per_name': (time.monotonic() - wall) * 1000 / len(sample),
            'calls_per_name': calls / len(sample), 'names': len(sample)}


def discovery_steps(direct, origin: str, zone: str):
    """The calls of one name of discovery.py's lab: the name's addresses, its well-known
    document (from ``origin``), the SRV record of every other name, the target's addresses."""
    def steps(name):
        index = int(name.split('.', 1)[0][1:])
        calls = [lambda: direct.query_address(name, 'AAAA'), lambda: direct.query_address(name, 'A'),
                 lambda: direct.https_get(origin, 443, '/.well-known/matrix/server', name, name, 51200)]
        if index % 2 == 0:
            target = f't{index}.{zone}'
            calls.append(lambda: direct.query_srv(f'_matrix-fed._tcp.hs{index}.{zone}'))
        else:
            target = f'hs{index}.{zone}'
        calls += [lambda: direct.query_address(target, 'AAAA'), lambda: direct.query_address(target, 'A')]
        return calls
    return steps


def federation_steps(direct, origin: str):
    """The calls of one name of federation_check.py's lab: discovery's, then one TLS
    connection with both GETs to the delegated server."""
    def steps(name):
        homeserver = 'hs' + name.split('.', 1)[0][1:] + '.' + name.split('.', 1)[1]
        return [lambda: direct.query_address(name, 'AAAA'), lambda: direct.query_address(name, 'A'),
                lambda: direct.https_get(origin, 443, '/.well-known/matrix/server', name, name, 51200),
                lambda: direct.query_address(homeserver, 'AAAA'), lambda: direct.query_address(homeserver, 'A'),
                lambda: direct.probe_federation(origin, 8448, homeserver, homeserver + ':8448',
                                                ['/_matrix/federation/v1/version', '/_matrix/key/v2/server'])]
    return steps
