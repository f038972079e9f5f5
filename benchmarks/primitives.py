"""Benchmark: CPU cost of the network operations one server-name resolution is made of.

The discovery and federation_check benchmarks are limited by CPU at 500 names. This one
measures, one operation at a time against the same lab (no added latency), what the client
pays in CPU for each building block the specification requires, through the transport the
engine uses (dnspython's asynchronous resolver and the collection's one HTTPS client, each
call run on a loop of its own from synchronous code) and, for comparison, the bare ssl
module and the former client on requests:

* one DNS query through `NetworkTransport.query_address` (dnspython),
* one TCP connection with a verified TLS handshake (ssl module alone, no HTTP),
* one HTTPS GET of a well-known through `NetworkTransport.https_get` (`_https_client`),
* the same GET written directly on an ssl socket (http.client parses the response),
* the same GET through requests, as the collection made it before (`_former_requests_client`),
* one federation probe through `NetworkTransport.probe_federation`: one TLS connection, two GETs.

A name delegated by well-known needs at least 4 DNS queries and one HTTPS GET; these
numbers give the lowest CPU per name any client built on these libraries could reach.

Run as root from the checkout (see benchmarks/README.md):
    python benchmarks/primitives.py
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import time

from _checkout import use_checkout_as_collection  # noqa: E402  (beside this script)

use_checkout_as_collection()

# pylint: disable=wrong-import-position
from discovery import build  # noqa: E402

from ansible_collections.homeserver.delegation.plugins.module_utils._connection import (  # noqa: E402
    transport_from_options,
)
from ansible_collections.homeserver.delegation.tests.lab.lab import Lab  # noqa: E402

WELL_KNOWN = '/.well-known/matrix/server'


def cpu_per_call(operation, names: list[str]) -> tuple[float, float]:
    """(CPU ms, wall ms) per call of operation(name), over every name once, after one warm-up call."""
    operation(names[0])
    cpu, wall = time.process_time(), time.monotonic()
    for name in names:
        operation(name)
    return ((time.process_time() - cpu) * 1000 / len(names), (time.monotonic() - wall) * 1000 / len(names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--names', type=int, default=300, help='calls per operation (one per name)')
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit('run as root: the lab binds ports 53 and 443 on loopback addresses')
    with Lab() as lab:
        address = lab.new_ipv4()
        names, _origin = build(lab, args.names, address, origin_address=address)
        transport = transport_from_options({'nameservers': lab.nameservers, 'dns_port': lab.dns_port,
                                            'ca_path': lab.ca_path, 'timeout': 10})
        # The transport's own trust settings, so every handshake verifies the same way.
        context = transport._verify_context  # pylint: disable=protected-access

        def handshake(name):
            with socket.create_connection((address, 443), timeout=10) as raw, \
                    context.wrap_socket(raw, server_hostname=name):
                pass

        def bare_get(name):
            with socket.create_connection((address, 443), timeout=10) as raw, \
                    context.wrap_socket(raw, server_hostname=name) as tls:
                tls.sendall(f'GET {WELL_KNOWN} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n'.encode())
                response = http.client.HTTPResponse(tls)
                response.begin()
                response.read(51200)

        operations = [
            ('DNS query, A (transport: dnspython)', lambda name: transport.query_address(name, 'A')),
            ('TCP + TLS handshake, verified (ssl module)', handshake),
            ('HTTPS GET of the well-known (transport: _https_client on the loop)',
             lambda name: transport.https_get(address, 443, WELL_KNOWN, name, name, 51200)),
            ('HTTPS GET of the well-known (bare ssl socket + http.client)', bare_get),
        ]
        try:
            from _former_requests_client import former_https_get  # pylint: disable=import-outside-toplevel
        except ImportError:
            print('requests is not installed: the former client is not measured\n')
        else:
            operations.append(('HTTPS GET of the well-known (former client: requests)',
                               lambda name: former_https_get(address, 443, WELL_KNOWN, name, name, 51200, context)))
        operations.append(('federation probe: TLS + 2 GETs on one connection (transport: _https_client)',
                           lambda name: transport.probe_federation(address, 443, name, name,
                                                                   [WELL_KNOWN, WELL_KNOWN])))
        print(f'{len(names)} calls each, no added latency, one thread, {os.cpu_count()} CPUs\n')
        print('| operation | client CPU per call | wall per call |')
        print('|---|---:|---:|')
        for label, operation in operations:
            cpu, wall = cpu_per_call(operation, names)
            print(f'| {label} | {cpu:.3f} ms | {wall:.3f} ms |')


if __name__ == '__main__':
    main()
