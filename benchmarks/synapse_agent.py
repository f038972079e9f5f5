"""Benchmark helper: Synapse's own MatrixFederationAgent resolving and requesting N names.

Run by benchmarks/federation_check.py with the Python of the lab's Synapse virtualenv
(tests/lab/synapse.py), in the same lab and through the same delaying relays as
federation_check: for every name, Synapse's server discovery (well-known, SRV, addresses)
and one GET of /_matrix/federation/v1/version over TLS verified against the lab's CA, all
names at once on one Twisted reactor, as a homeserver sends them. Reads a JSON job on stdin
({"names", "nameserver", "dns_port", "ca_path"}) and prints {"seconds", "cpu_seconds",
"max_rss_kib", "failed"}: the timestamps are taken around the requests, after the imports.

Not a test and not part of the collection: it only uses Synapse's and Twisted's public classes.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from types import SimpleNamespace


def main() -> None:
    job = json.load(sys.stdin)
    # pylint: disable=import-outside-toplevel,import-error
    from netaddr import IPSet
    from twisted.internet import defer, reactor
    from twisted.internet.ssl import Certificate, trustRootFromCertificates
    from twisted.names import client as dns_client
    from twisted.web.client import readBody

    from synapse.crypto.context_factory import FederationPolicyForHTTPS
    from synapse.http.federation.matrix_federation_agent import MatrixFederationAgent
    from synapse.http.federation.srv_resolver import SrvResolver
    from synapse.util.clock import Clock

    # Every DNS question goes to the lab's (delaying) resolver: SRV through Synapse's
    # SrvResolver, the addresses through the reactor's resolver, which Synapse uses.
    resolver = dns_client.Resolver(servers=[(job['nameserver'], job['dns_port'])])
    reactor.installResolver(resolver)
    with open(job['ca_path'], 'rb') as handle:
        trust_root = trustRootFromCertificates([Certificate.loadPEM(handle.read())])
    config = SimpleNamespace(tls=SimpleNamespace(
        federation_ca_trust_root=trust_root, federation_client_minimum_tls_version='1.2',
        federation_verify_certificates=True, federation_certificate_verification_whitelist=[]))
    agent = MatrixFederationAgent(
        server_name='bench.local', reactor=reactor, clock=Clock(reactor, server_name='bench.local'),
        tls_client_options_factory=FederationPolicyForHTTPS(config), user_agent=b'bench',
        ip_allowlist=None, ip_blocklist=IPSet(), _srv_resolver=SrvResolver(dns_client=resolver))
    outcome = {}

    @defer.inlineCallbacks
    def one(name):
        try:
            response = yield agent.request(
                b'GET', b'matrix-federation://%s/_matrix/federation/v1/version' % name.encode('ascii'))
            body = yield readBody(response)
            if response.code != 200 or b'"server"' not in body:
                outcome.setdefault('failed', []).append('%s: HTTP %d' % (name, response.code))
        except Exception as exc:  # pylint: disable=broad-except
            outcome.setdefault('failed', []).append('%s: %r' % (name, exc))

    @defer.inlineCallbacks
    def run():
        started, cpu_started = time.monotonic(), time.process_time()
        yield defer.DeferredList([one(name) for name in job['names']])
        outcome['seconds'] = time.monotonic() - started
        outcome['cpu_seconds'] = time.process_time() - cpu_started
        reactor.stop()

    reactor.callWhenRunning(run)
    reactor.run()
    outcome['max_rss_kib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcome['failed_count'] = len(outcome.get('failed', []))
    outcome['failed'] = outcome.get('failed', [])[:5]
    json.dump(outcome, sys.stdout)


if __name__ == '__main__':
    main()
