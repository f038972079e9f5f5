"""The lab itself: each fixture does what the other tests rely on."""

from __future__ import annotations

import json
import socket
import ssl

import dns.message
import dns.query
import dns.rcode
import dns.resolver
import dns.tsig
import dns.update
import pytest
import requests

from ansible_collections.homeserver.delegation.tests.lab.bind import new_tsig_key


def resolver(lab):
    answerer = dns.resolver.Resolver(configure=False)
    answerer.nameservers = lab.nameservers
    answerer.port = lab.dns_port
    answerer.lifetime = 3
    return answerer


def fetch(lab, name, address, path, port=443):
    """GET https://name/path from `address` with SNI and Host for `name`, verified by the CA."""
    context = ssl.create_default_context(cafile=lab.ca_path)
    family = socket.AF_INET6 if ':' in address else socket.AF_INET
    with socket.create_connection((address, port), timeout=5) as raw:
        assert raw.family == family
        with context.wrap_socket(raw, server_hostname=name) as tls:
            # HTTP/1.0: no chunked encoding to undo, the server closes after the body.
            tls.sendall(f'GET {path} HTTP/1.0\r\nHost: {name}\r\n\r\n'.encode())
            data = b''
            while chunk := tls.recv(65536):
                data += chunk
    head, _separator, body = data.partition(b'\r\n\r\n')
    return int(head.split()[1]), body


@pytest.fixture(scope='module')
def lab_zone(lab):
    zone = lab.bind.static_zone('labcheck.test')
    dynamic = lab.bind.dynamic_zone('dyn.labcheck.test')
    lab.bind.servfail_zone('broken.labcheck.test')
    lab.bind.reload()
    yield zone, dynamic
    for origin in ('labcheck.test', 'dyn.labcheck.test', 'broken.labcheck.test'):
        lab.bind.remove_zone(origin)
    lab.bind.reload()


def test_bind_serves_records_described_in_python(lab, lab_zone):
    zone, _dynamic = lab_zone
    zone.add_a('host.labcheck.test', '127.77.0.9').add_aaaa('host.labcheck.test', 'fd00::9')
    zone.add_srv('_matrix-fed._tcp.labcheck.test', 10, 5, 8448, 'host.labcheck.test')
    lab.bind.reload()
    answers = resolver(lab)
    assert [r.address for r in answers.resolve('host.labcheck.test', 'AAAA')] == ['fd00::9']
    srv = answers.resolve('_matrix-fed._tcp.labcheck.test', 'SRV')[0]
    assert (srv.priority, srv.weight, srv.port, srv.target.to_text()) == (10, 5, 8448, 'host.labcheck.test.')
    zone.remove('host.labcheck.test', 'AAAA')
    lab.bind.reload()
    with pytest.raises(dns.resolver.NoAnswer):
        answers.resolve('host.labcheck.test', 'AAAA')


def test_dynamic_zone_takes_signed_updates_only(lab, lab_zone):
    _zone, dynamic = lab_zone
    key = dynamic.key
    signed = dns.update.Update(dynamic.origin, keyring=key.keyring(), keyname=key.name,
                               keyalgorithm=key.algorithm)
    signed.add('_matrix-fed._tcp.hs', 60, 'SRV', '10 0 8448 hs.labcheck.test.')
    assert dns.query.tcp(signed, lab.bind.address, port=lab.dns_port, timeout=5).rcode() == dns.rcode.NOERROR
    assert resolver(lab).resolve(f'_matrix-fed._tcp.hs.{dynamic.origin}', 'SRV')[0].port == 8448

    unsigned = dns.update.Update(dynamic.origin)
    unsigned.delete('_matrix-fed._tcp.hs')
    assert dns.query.tcp(unsigned, lab.bind.address, port=lab.dns_port, timeout=5).rcode() == dns.rcode.REFUSED

    stranger = new_tsig_key(key.name)  # right name, wrong secret
    forged = dns.update.Update(dynamic.origin, keyring=stranger.keyring(), keyname=stranger.name,
                               keyalgorithm=stranger.algorithm)
    forged.delete('_matrix-fed._tcp.hs')
    with pytest.raises(dns.tsig.PeerBadSignature):
        dns.query.tcp(forged, lab.bind.address, port=lab.dns_port, timeout=5)

    lab.bind.reset_dynamic_zone(dynamic.origin)
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver(lab).resolve(f'_matrix-fed._tcp.hs.{dynamic.origin}', 'SRV')


def test_servfail_zone_and_silent_server(lab, lab_zone):  # pylint: disable=unused-argument
    query = dns.message.make_query('x.broken.labcheck.test', 'A')
    assert dns.query.udp(query, lab.bind.address, port=lab.dns_port, timeout=3).rcode() == dns.rcode.SERVFAIL
    silent = lab.start_silent_dns()
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(query, silent, port=53, timeout=0.5)


def test_nginx_picks_vhost_by_address_and_sni(lab):
    ipv4, ipv6 = lab.new_ipv4(), lab.new_ipv6()
    lab.nginx.vhost('split.labcheck.test', [ipv4]).well_known_server('v4.labcheck.test:443')
    lab.nginx.vhost('split.labcheck.test', [ipv6]).well_known_server('v6.labcheck.test:443')
    lab.nginx.vhost('other.labcheck.test', [ipv4]).status('/.well-known/matrix/server', 500, 'boom')
    lab.nginx.vhost(ipv4, [ipv4]).json('/.well-known/matrix/server', ['literal'])
    lab.nginx.reload()
    path = '/.well-known/matrix/server'
    assert fetch(lab, 'split.labcheck.test', ipv4, path) == (200, b'{"m.server": "v4.labcheck.test:443"}')
    assert fetch(lab, 'split.labcheck.test', ipv6, path) == (200, b'{"m.server": "v6.labcheck.test:443"}')
    assert fetch(lab, 'other.labcheck.test', ipv4, path) == (500, b'boom')
    # An IP literal: no SNI at all, the certificate must carry the IP.
    response = requests.get(f'https://{ipv4}{path}', verify=lab.ca_path, timeout=5)
    assert response.json() == ['literal']


@pytest.mark.parametrize('variant, expected', [
    ({'expired': True}, 'certificate has expired'),
    ({'self_signed': True}, 'self-signed certificate'),
    ({'dns_names': ['someone-else.labcheck.test']}, "Hostname mismatch"),
])
def test_certificate_variants_fail_verification(lab, variant, expected):
    address = lab.new_ipv4()
    names = variant.pop('dns_names', ['bad.labcheck.test'])
    lab.nginx.vhost('bad.labcheck.test', [address], cert=lab.ca.issue(names, **variant)).well_known_server('x:1')
    lab.nginx.reload()
    with pytest.raises(ssl.SSLCertVerificationError, match=expected):
        fetch(lab, 'bad.labcheck.test', address, '/.well-known/matrix/server')


def test_private_keys_are_owner_only(lab):
    cert = lab.ca.issue(['keys.labcheck.test'])
    assert cert.key_path.stat().st_mode & 0o777 == 0o600


def test_synapse_answers_federation_through_nginx(lab, synapse):
    address = lab.new_ipv4()
    site = lab.nginx.vhost(synapse.server_name, [address])
    site.proxy('/_matrix', synapse.url)
    lab.nginx.reload()
    try:
        status, body = fetch(lab, synapse.server_name, address, '/_matrix/federation/v1/version')
        assert status == 200
        assert json.loads(body)['server']['name'] == 'Synapse'
        status, body = fetch(lab, synapse.server_name, address, '/_matrix/key/v2/server')
        keys = json.loads(body)
        assert status == 200
        assert keys['server_name'] == synapse.server_name
        assert any(key_id.startswith('ed25519:') for key_id in keys['verify_keys'])
    finally:
        lab.nginx.remove(site)
        lab.nginx.reload()
