"""Server discovery (issue 2) against a real BIND and a real nginx with the test CA.

Every step of the specification's "Resolving server names" is set up for real: a name, its
DNS records, its well-known document on nginx over TLS, and at the final target a TLS server
that answers `/_matrix/federation/v1/version` with a marker naming the server it stands for.
Each test resolves the name with the engine, checks the fields of the result, then connects
exactly as the result says (address, port, SNI, certificate name, Host) and checks that the
intended server answered. The lookup itself runs through ansible-playbook in
test_lookup_playbook.py.
"""

from __future__ import annotations

import email.utils
import json
import socket
import ssl
import time

import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils._connection import (
    transport_from_options,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._discovery import (
    DiscoveryError,
    ServerDiscovery,
)

ZONE = 'disc.test'
WELL_KNOWN = '/.well-known/matrix/server'
VERSION = '/_matrix/federation/v1/version'


class DiscoveryLab:
    """The zone and virtual hosts of this module, on the session's lab."""

    def __init__(self, lab):
        self.lab = lab
        self.zone = lab.bind.static_zone(ZONE)
        self.vhosts = []
        self.web = lab.new_ipv4()             # every well-known and every named target
        self.ip4 = lab.new_ipv4()             # step 1, IPv4 literal
        self.ip6 = lab.new_ipv6()             # step 1, IPv6 literal
        self.wk_ip = lab.new_ipv4()           # step 3.1, m.server is an IP literal
        self.dual4 = [lab.new_ipv4(), lab.new_ipv4()]
        self.dual6 = lab.new_ipv6()

    def vhost(self, name, addresses=None, **kwargs):
        vhost = self.lab.nginx.vhost(name, addresses or [self.web], **kwargs)
        self.vhosts.append(vhost)
        return vhost

    def site(self, name, **kwargs):
        """A name whose A record points at the web address, with a 443 vhost (404 everywhere)."""
        self.zone.add_a(name, self.web)
        return self.vhost(name, **kwargs)

    def target(self, name, port, marker=None, addresses=None):
        """A federation endpoint for `name` (certificate for `name`) on address:port."""
        return self.vhost(name, addresses, port=port).json(
            VERSION, {'server': {'name': marker or name, 'version': 'lab'}})

    def redirect_chain(self, name, hops, document):
        """`name` redirects its well-known `hops` times (same host) before serving `document`."""
        site = self.site(name)
        path = WELL_KNOWN
        for hop in range(1, hops + 1):
            site.redirect(path, f'https://{name}/hop{hop}', 302)
            path = f'/hop{hop}'
        site.json(path, document)


def build(lab):  # pylint: disable=too-many-statements
    """Describe every case in DNS and nginx."""
    disc = DiscoveryLab(lab)
    zone = disc.zone

    # Step 1: IP literals, with and without a port. Certificates carry the IP; no SNI.
    disc.target(disc.ip4, 8448, 'ip4-literal', [disc.ip4])
    disc.target(f'[{disc.ip6}]', 8449, 'ip6-literal', [disc.ip6])

    # Step 2: explicit port. Its well-known delegates elsewhere and must be ignored.
    disc.site('explicit.disc.test').well_known_server('elsewhere.disc.test:9999')
    disc.target('explicit.disc.test', 8450)

    # Step 3.1 to 3.5: a valid well-known.
    disc.site('wk-ip.disc.test').well_known_server(f'{disc.wk_ip}:8451')
    disc.target(disc.wk_ip, 8451, 'wk-ip-literal', [disc.wk_ip])

    disc.site('wk-port.disc.test').well_known_server('hs-port.disc.test:8452')
    zone.add_a('hs-port.disc.test', disc.web)
    disc.target('hs-port.disc.test', 8452)

    disc.site('wk-srv.disc.test').well_known_server('hs-srv.disc.test')
    zone.add_srv('_matrix-fed._tcp.hs-srv.disc.test', 10, 0, 8453, 't-srv.disc.test')
    zone.add_srv('_matrix._tcp.hs-srv.disc.test', 10, 0, 8499, 't-wrong.disc.test')  # must lose
    zone.add_a('t-srv.disc.test', disc.web)
    zone.add_a('t-wrong.disc.test', disc.web)
    disc.target('hs-srv.disc.test', 8453)

    disc.site('wk-legacy.disc.test').well_known_server('hs-legacy.disc.test')
    zone.add_srv('_matrix._tcp.hs-legacy.disc.test', 10, 0, 8454, 't-legacy.disc.test')
    zone.add_a('t-legacy.disc.test', disc.web)
    disc.target('hs-legacy.disc.test', 8454)

    disc.site('wk-default.disc.test').well_known_server('hs-default.disc.test')
    zone.add_a('hs-default.disc.test', disc.web)
    disc.target('hs-default.disc.test', 8448)

    # Steps 4 to 6: no usable well-known.
    disc.site('srv.disc.test')  # 404
    zone.add_srv('_matrix-fed._tcp.srv.disc.test', 10, 0, 8455, 't-srv4.disc.test')
    zone.add_srv('_matrix._tcp.srv.disc.test', 10, 0, 8499, 't-wrong.disc.test')  # must lose
    zone.add_a('t-srv4.disc.test', disc.web)
    disc.target('srv.disc.test', 8455)

    disc.site('srv-legacy.disc.test').status(WELL_KNOWN, 500)
    zone.add_srv('_matrix._tcp.srv-legacy.disc.test', 10, 0, 8456, 't-legacy5.disc.test')
    zone.add_a('t-legacy5.disc.test', disc.web)
    disc.target('srv-legacy.disc.test', 8456)

    disc.site('plain.disc.test')  # 404, no SRV
    disc.target('plain.disc.test', 8448)

    # Redirects.
    for code in (301, 302, 307, 308):
        disc.site(f'redir-{code}.disc.test').redirect(
            WELL_KNOWN, f'https://redir-dest.disc.test{WELL_KNOWN}', code)
    disc.site('redir-dest.disc.test').well_known_server('hs-redir.disc.test:8457')
    zone.add_a('hs-redir.disc.test', disc.web)
    disc.target('hs-redir.disc.test', 8457)

    disc.site('loop-a.disc.test').redirect(WELL_KNOWN, f'https://loop-b.disc.test{WELL_KNOWN}', 302)
    disc.site('loop-b.disc.test').redirect(WELL_KNOWN, f'https://loop-a.disc.test{WELL_KNOWN}', 302)
    disc.target('loop-a.disc.test', 8448)

    # A downgrade to http:// that, if followed, would find a valid document.
    disc.site('insecure.disc.test').redirect(WELL_KNOWN, f'http://insecure.disc.test{WELL_KNOWN}', 301)
    disc.vhost('insecure.disc.test', port=80, tls=False).well_known_server('hs-http.disc.test:8458')
    zone.add_a('hs-http.disc.test', disc.web)
    disc.target('insecure.disc.test', 8448)

    disc.redirect_chain('hops10.disc.test', 10, {'m.server': 'hs-hops.disc.test:8459'})
    disc.redirect_chain('hops11.disc.test', 11, {'m.server': 'hs-hops.disc.test:8459'})
    zone.add_a('hs-hops.disc.test', disc.web)
    disc.target('hs-hops.disc.test', 8459)

    # Cache periods from the response headers.
    for label, headers in CACHE_HEADERS.items():
        if label == 'expires':
            headers = {'Expires': email.utils.formatdate(time.time() + 3600, usegmt=True)}
        site = disc.site(f'cache-{label}.disc.test')
        site.well_known_server('hs-port.disc.test:8452', headers=headers)

    # Broken documents, all falling back to step 6.
    disc.site('html.disc.test').serve(WELL_KNOWN, '<html><body>It works!</body></html>',
                                      content_type='text/html')
    document = json.dumps({'m.server': 'hs-big.disc.test:8460'})
    disc.site('big.disc.test').serve(WELL_KNOWN, document + ' ' * (51200 - len(document)))
    disc.site('big-ok.disc.test').serve(WELL_KNOWN, document + ' ' * (51199 - len(document)))
    zone.add_a('hs-big.disc.test', disc.web)
    disc.target('hs-big.disc.test', 8460)
    disc.site('nf.disc.test').status(WELL_KNOWN, 404)
    disc.site('err500.disc.test').status(WELL_KNOWN, 500)
    disc.site('list.disc.test').json(WELL_KNOWN, ['hs.disc.test'])
    disc.site('string.disc.test').json(WELL_KNOWN, 'hs.disc.test')
    disc.site('missing.disc.test').json(WELL_KNOWN, {'m.homeserver': {'base_url': 'https://hs.disc.test'}})
    for index, value in enumerate(BAD_M_SERVER):
        disc.site(f'bad-{index}.disc.test').json(WELL_KNOWN, {'m.server': value})

    # TLS problems on the well-known: unusable, so SRV (step 4) decides.
    ca = lab.ca
    for name, cert in (('tls-wrong.disc.test', ca.issue(['other.disc.test'])),
                       ('tls-expired.disc.test', ca.issue(['tls-expired.disc.test'], expired=True)),
                       ('tls-self.disc.test', ca.issue(['tls-self.disc.test'], self_signed=True))):
        disc.site(name, cert=cert).well_known_server('hs-port.disc.test:8452')
        zone.add_srv(f'_matrix-fed._tcp.{name}', 10, 0, 8461, 't-tls.disc.test')
    zone.add_a('t-tls.disc.test', disc.web)

    # SRV oddities.
    disc.site('srv-cname.disc.test')
    zone.add_srv('_matrix-fed._tcp.srv-cname.disc.test', 10, 0, 8462, 'alias.disc.test')
    zone.add_cname('alias.disc.test', 'real.disc.test')
    zone.add_a('real.disc.test', disc.web)
    disc.target('srv-cname.disc.test', 8462)

    disc.site('srv-dot.disc.test')
    zone.add_srv('_matrix-fed._tcp.srv-dot.disc.test', 0, 0, 0, '.')

    disc.site('srv-order.disc.test')
    zone.add_srv('_matrix-fed._tcp.srv-order.disc.test', 20, 0, 8463, 'second.disc.test')
    zone.add_srv('_matrix-fed._tcp.srv-order.disc.test', 10, 0, 8463, 'first.disc.test')
    zone.add_a('first.disc.test', disc.dual4[0])
    zone.add_a('second.disc.test', disc.dual4[1])

    disc.site('srvfail.disc.test')
    lab.bind.servfail_zone('_tcp.srvfail.disc.test')

    for address in (*disc.dual4, disc.dual6):
        zone.add_address('dual.disc.test', address)
    disc.target('dual.disc.test', 8464, addresses=[*disc.dual4, disc.dual6])

    lab.reload()
    return disc


CACHE_HEADERS = {
    'none': {},
    'max-age': {'Cache-Control': 'public, max-age=7200'},
    'short': {'Cache-Control': 'max-age=10'},
    'long': {'Cache-Control': 'max-age=604800'},
    'no-store': {'Cache-Control': 'no-store'},
    'expires': None,  # an Expires date one hour ahead, made when the lab is built
}

BAD_M_SERVER = ['https://hs.disc.test', 'hs.disc.test:99999', 'hs.disc.test/matrix', '', 42,
                'hs .disc.test', 'hs.disc.test:']


@pytest.fixture(scope='module')
def disc(lab):
    built = build(lab)
    yield built
    lab.nginx.remove(*built.vhosts)
    lab.bind.remove_zone(ZONE)
    lab.bind.remove_zone('_tcp.srvfail.disc.test')
    lab.reload()


def discover(lab, *names, **options):
    """Resolve names with the engine and the lab's DNS and CA; DiscoveryError for failures."""
    connection = {'nameservers': lab.nameservers, 'dns_port': lab.dns_port,
                  'ca_path': lab.ca_path, 'validate_certs': True, 'timeout': 5}
    connection.update(options)
    discovery = ServerDiscovery(transport_from_options(connection))
    return discovery.resolve_many(list(names))


def resolve(lab, name, **options):
    (result,) = discover(lab, name, **options)
    if isinstance(result, DiscoveryError):
        raise result
    return result


def federation_version(lab, result, target_index=0):
    """Connect as the result says; return the marker of the server that answered."""
    target = result['targets'][target_index]
    if result['sni'] is None:
        # No SNI: Python sends none when server_hostname is an IP, and checks the IP SAN.
        server_hostname = result['tls_server_name']
        socket.inet_pton(socket.AF_INET6 if ':' in server_hostname else socket.AF_INET, server_hostname)
    else:
        assert result['sni'] == result['tls_server_name']
        server_hostname = result['sni']
    context = ssl.create_default_context(cafile=lab.ca_path)
    with socket.create_connection((target['address'], target['port']), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
            request = f'GET {VERSION} HTTP/1.1\r\nHost: {result["host_header"]}\r\nConnection: close\r\n\r\n'
            tls.sendall(request.encode('ascii'))
            data = b''
            while chunk := tls.recv(65536):
                data += chunk
    head, _separator, body = data.partition(b'\r\n\r\n')
    assert head.split()[1] == b'200', head
    return json.loads(body)['server']['name']


def expand(case, values):
    """A STEPS case with the lab's addresses filled in."""
    if isinstance(case, str):
        return case.format(**values)
    if isinstance(case, tuple):
        return tuple(expand(item, values) for item in case)
    return case


def error_code(result):
    return (result['well_known_error'] or '').split(':', 1)[0]


# Steps 1 to 6 ---------------------------------------------------------------------------------

# name, method, delegated_server, host_header, tls_server_name, (target host, port), marker.
# {ip4} {ip6} {wk_ip} are the lab's addresses; "tls_server_name" None means: same as host_header.
STEPS = [
    ('{ip4}', 'ip_literal', None, '{ip4}', '{ip4}', ('{ip4}', 8448), 'ip4-literal'),
    ('[{ip6}]:8449', 'ip_literal', None, '[{ip6}]:8449', '{ip6}', ('{ip6}', 8449), 'ip6-literal'),
    ('explicit.disc.test:8450', 'explicit_port', None, 'explicit.disc.test:8450',
     'explicit.disc.test', ('explicit.disc.test', 8450), 'explicit.disc.test'),
    ('wk-ip.disc.test', 'well_known_ip_literal', '{wk_ip}:8451', '{wk_ip}:8451', '{wk_ip}',
     ('{wk_ip}', 8451), 'wk-ip-literal'),
    ('wk-port.disc.test', 'well_known_explicit_port', 'hs-port.disc.test:8452',
     'hs-port.disc.test:8452', 'hs-port.disc.test', ('hs-port.disc.test', 8452), 'hs-port.disc.test'),
    ('wk-srv.disc.test', 'well_known_srv', 'hs-srv.disc.test', 'hs-srv.disc.test',
     'hs-srv.disc.test', ('t-srv.disc.test', 8453), 'hs-srv.disc.test'),
    ('wk-legacy.disc.test', 'well_known_srv_legacy', 'hs-legacy.disc.test', 'hs-legacy.disc.test',
     'hs-legacy.disc.test', ('t-legacy.disc.test', 8454), 'hs-legacy.disc.test'),
    ('wk-default.disc.test', 'well_known_default_port', 'hs-default.disc.test',
     'hs-default.disc.test', 'hs-default.disc.test', ('hs-default.disc.test', 8448),
     'hs-default.disc.test'),
    ('srv.disc.test', 'srv', None, 'srv.disc.test', 'srv.disc.test', ('t-srv4.disc.test', 8455),
     'srv.disc.test'),
    ('srv-legacy.disc.test', 'srv_legacy', None, 'srv-legacy.disc.test', 'srv-legacy.disc.test',
     ('t-legacy5.disc.test', 8456), 'srv-legacy.disc.test'),
    ('plain.disc.test', 'default_port', None, 'plain.disc.test', 'plain.disc.test',
     ('plain.disc.test', 8448), 'plain.disc.test'),
]


@pytest.mark.parametrize('case', STEPS, ids=[case[1] for case in STEPS])
def test_each_step_leads_to_the_intended_server(lab, disc, case):
    values = {'ip4': disc.ip4, 'ip6': disc.ip6, 'wk_ip': disc.wk_ip}
    name, method, delegated, host_header, tls_name, (host, port), marker = expand(case, values)
    result = resolve(lab, name)
    assert result['server_name'] == name
    assert result['method'] == method, result['steps']
    assert result['delegated_server'] == delegated
    assert result['host_header'] == host_header
    assert result['tls_server_name'] == tls_name
    is_ip = method in ('ip_literal', 'well_known_ip_literal')
    assert result['sni'] == (None if is_ip else tls_name)
    assert [(t['host'], t['port']) for t in result['targets']] == [(host, port)]
    if method.startswith('well_known_'):
        assert result['well_known'] == {'m.server': delegated}
        assert result['well_known_error'] is None
    else:
        assert result['well_known'] is None
    if method in ('ip_literal', 'explicit_port'):
        assert result['cache_seconds'] is None  # no well-known was requested
    assert federation_version(lab, result) == marker


def test_fallback_after_a_well_known_error_reports_why(lab, disc):  # pylint: disable=unused-argument
    result = resolve(lab, 'srv-legacy.disc.test')
    assert error_code(result) == 'http_error'
    assert '500' in result['well_known_error']
    assert result['cache_seconds'] is not None


@pytest.mark.parametrize('label, low, high', [
    ('none', 86400, 86400),        # no header: the 24 h default
    ('max-age', 7200, 7200),
    ('short', 300, 300),           # clamped up to 5 minutes
    ('long', 172800, 172800),      # clamped down to 48 hours
    ('no-store', 300, 300),        # "do not cache" still waits the 5-minute minimum
    ('expires', 3300, 3600),       # one hour ahead when the lab was built, a little less now
])
def test_cache_period_follows_the_response_headers(lab, disc, label, low, high):  # pylint: disable=unused-argument
    result = resolve(lab, f'cache-{label}.disc.test')
    assert result['method'] == 'well_known_explicit_port', result['steps']
    assert low <= result['cache_seconds'] <= high


# Redirects ------------------------------------------------------------------------------------

@pytest.mark.parametrize('code', [301, 302, 307, 308])
def test_redirect_across_hosts_is_followed(lab, disc, code):  # pylint: disable=unused-argument
    result = resolve(lab, f'redir-{code}.disc.test')
    assert result['method'] == 'well_known_explicit_port', result['steps']
    assert result['delegated_server'] == 'hs-redir.disc.test:8457'
    # The Host header and certificate are those of the delegated server, not the redirect target.
    assert result['host_header'] == 'hs-redir.disc.test:8457'
    assert federation_version(lab, result) == 'hs-redir.disc.test'


@pytest.mark.parametrize('name, code', [
    ('loop-a.disc.test', 'redirect_loop'),
    ('insecure.disc.test', 'insecure_redirect'),
    ('hops11.disc.test', 'too_many_redirects'),
])
def test_unusable_redirects_fall_back(lab, disc, name, code):  # pylint: disable=unused-argument
    result = resolve(lab, name)
    assert result['method'] == 'default_port', result['steps']
    assert result['delegated_server'] is None
    assert error_code(result) == code, result['well_known_error']
    assert [(t['host'], t['port']) for t in result['targets']] == [(name, 8448)]


def test_ten_redirects_are_still_followed(lab, disc):  # pylint: disable=unused-argument
    result = resolve(lab, 'hops10.disc.test')
    assert result['method'] == 'well_known_explicit_port', result['steps']
    assert result['delegated_server'] == 'hs-hops.disc.test:8459'


# Broken documents -----------------------------------------------------------------------------

@pytest.mark.parametrize('name, code', [
    ('html.disc.test', 'not_json'),
    ('big.disc.test', 'too_large'),
    ('nf.disc.test', 'not_found'),
    ('err500.disc.test', 'http_error'),
    ('list.disc.test', 'not_object'),
    ('string.disc.test', 'not_object'),
    ('missing.disc.test', 'missing_m_server'),
    *[(f'bad-{index}.disc.test', 'invalid_m_server') for index in range(len(BAD_M_SERVER))],
])
def test_broken_well_known_falls_back_to_default_port(lab, disc, name, code):  # pylint: disable=unused-argument
    result = resolve(lab, name)
    assert result['method'] == 'default_port', result['steps']
    assert result['well_known'] is None
    assert result['delegated_server'] is None
    assert error_code(result) == code, result['well_known_error']
    assert result['host_header'] == name
    assert [(t['host'], t['port'], t['address']) for t in result['targets']] == [(name, 8448, disc.web)]


def test_body_just_under_the_cap_is_accepted(lab, disc):  # pylint: disable=unused-argument
    result = resolve(lab, 'big-ok.disc.test')
    assert result['method'] == 'well_known_explicit_port', result['steps']
    assert federation_version(lab, result) == 'hs-big.disc.test'


@pytest.mark.parametrize('name', ['tls-wrong.disc.test', 'tls-expired.disc.test', 'tls-self.disc.test'])
def test_well_known_behind_a_bad_certificate_is_not_used(lab, disc, name):  # pylint: disable=unused-argument
    result = resolve(lab, name)
    assert result['method'] == 'srv', result['steps']
    assert result['delegated_server'] is None
    assert error_code(result) == 'tls_invalid', result['well_known_error']
    assert result['host_header'] == name
    assert result['tls_server_name'] == name
    assert [(t['host'], t['port']) for t in result['targets']] == [('t-tls.disc.test', 8461)]


def test_bad_certificate_is_accepted_only_when_verification_is_off(lab, disc):  # pylint: disable=unused-argument
    result = resolve(lab, 'tls-wrong.disc.test', validate_certs=False)
    assert result['method'] == 'well_known_explicit_port', result['steps']


def test_without_the_test_ca_the_well_known_is_unusable(lab, disc):  # pylint: disable=unused-argument
    # The system CAs do not know the lab's CA: verification is on by default.
    result = resolve(lab, 'wk-port.disc.test', ca_path=None)
    assert error_code(result) == 'tls_invalid'
    assert result['method'] == 'default_port'


# SRV ------------------------------------------------------------------------------------------

def test_srv_target_cname_is_reported_and_still_resolved(lab, disc):
    result = resolve(lab, 'srv-cname.disc.test')
    assert result['method'] == 'srv'
    assert [(t['host'], t['port'], t['address']) for t in result['targets']] == [
        ('alias.disc.test', 8462, disc.web)]
    assert 'target_is_cname' in [problem['code'] for problem in result['problems']]
    assert federation_version(lab, result) == 'srv-cname.disc.test'


def test_srv_records_are_ordered_by_priority(lab, disc):
    result = resolve(lab, 'srv-order.disc.test')
    assert [(t['host'], t['address']) for t in result['targets']] == [
        ('first.disc.test', disc.dual4[0]), ('second.disc.test', disc.dual4[1])]


def test_every_ipv6_and_ipv4_address_is_kept(lab, disc):
    result = resolve(lab, 'dual.disc.test:8464')
    assert sorted(t['address'] for t in result['targets']) == sorted([*disc.dual4, disc.dual6])
    assert {(t['host'], t['port']) for t in result['targets']} == {('dual.disc.test', 8464)}
    for index in range(3):
        assert federation_version(lab, result, index) == 'dual.disc.test'


@pytest.mark.parametrize('name, reason', [
    ('srv-dot.disc.test', 'not available'),
    ('srvfail.disc.test', 'SERVFAIL'),
    ('nothing.disc.test', 'address'),
    ('bad name.disc.test', 'not a valid server name'),
    ('example.test:0', 'port'),
])
def test_errors_name_the_server_and_the_reason(lab, disc, name, reason):  # pylint: disable=unused-argument
    (result,) = discover(lab, name)
    assert isinstance(result, DiscoveryError), result
    assert result.server_name == name
    assert reason.lower() in str(result.reason).lower()


def test_many_names_resolve_in_one_call_in_order(lab, disc):  # pylint: disable=unused-argument
    names = [case[0].format(ip4=disc.ip4, ip6=disc.ip6, wk_ip=disc.wk_ip) for case in STEPS]
    results = discover(lab, *names, 'nothing.disc.test')
    assert [r.server_name if isinstance(r, DiscoveryError) else r['server_name'] for r in results] == [
        *names, 'nothing.disc.test']
    assert [r['method'] for r in results[:-1]] == [case[1] for case in STEPS]
    assert isinstance(results[-1], DiscoveryError)


def test_dns_server_that_never_answers_is_a_timeout_error(lab, disc):  # pylint: disable=unused-argument
    silent = lab.start_silent_dns()
    (result,) = discover(lab, 'plain.disc.test', nameservers=[silent], dns_port=53, timeout=0.5)
    assert isinstance(result, DiscoveryError)
    assert 'plain.disc.test' == result.server_name
    assert 'timeout' in str(result.reason).lower()


# The lookup, through ansible-playbook ---------------------------------------------------------

def lookup_options(lab):
    return {'nameservers': lab.nameservers, 'dns_port': lab.dns_port, 'ca_path': lab.ca_path,
            'timeout': 5}


def test_lookup_in_a_playbook_resolves_every_step(lab, disc, ansible_playbook, tmp_path):
    values = {'ip4': disc.ip4, 'ip6': disc.ip6, 'wk_ip': disc.wk_ip}
    expected = {expand(case[0], values): case for case in STEPS}
    extra = ['redir-308.disc.test', 'html.disc.test', 'srv-cname.disc.test', 'dual.disc.test:8464']
    names = [*expected, *extra]
    result_path = tmp_path / 'results.json'
    run = ansible_playbook('server_discovery.yml', {
        'server_names': names, 'result_path': str(result_path),
        'discovery_options': lookup_options(lab)})
    assert run.returncode == 0, run.stdout + run.stderr
    results = {result['server_name']: result for result in json.loads(result_path.read_text())}
    assert list(results) == names
    for name, case in expected.items():
        _name, method, delegated, host_header, tls_name, (host, port), _marker = expand(case, values)
        result = results[name]
        assert (result['method'], result['delegated_server'], result['host_header'],
                result['tls_server_name']) == (method, delegated, host_header, tls_name), name
        assert [(t['host'], t['port']) for t in result['targets']] == [(host, port)], name
        assert isinstance(result['steps'], list) and result['steps']
        assert isinstance(result['problems'], list)
    assert results['redir-308.disc.test']['delegated_server'] == 'hs-redir.disc.test:8457'
    assert error_code(results['html.disc.test']) == 'not_json'
    assert 'target_is_cname' in [p['code'] for p in results['srv-cname.disc.test']['problems']]
    assert len(results['dual.disc.test:8464']['targets']) == 3
    # The well-known document as parsed, and its cache period, survive the trip through Ansible.
    assert results['wk-srv.disc.test']['well_known'] == {'m.server': 'hs-srv.disc.test'}
    assert results['wk-srv.disc.test']['cache_seconds'] == 86400


@pytest.mark.parametrize('names, options, expected', [
    (['wk-srv.disc.test', 'bad name.disc.test'], {}, 'bad name.disc.test'),
    (['nothing.disc.test'], {}, 'nothing.disc.test'),
    (['srv-dot.disc.test'], {}, 'srv-dot.disc.test'),
    (['wk-srv.disc.test'], {'nameservers': ['ns.disc.test']}, 'nameservers'),
    (['wk-srv.disc.test'], {'ca_path': '/nonexistent/ca.pem'}, 'ca_path'),
])
def test_lookup_errors_fail_the_task_with_a_clear_message(lab, disc, ansible_playbook, tmp_path,  # pylint: disable=unused-argument
                                                          names, options, expected):
    result_path = tmp_path / 'results.json'
    run = ansible_playbook('server_discovery.yml', {
        'server_names': names, 'result_path': str(result_path),
        'discovery_options': {**lookup_options(lab), **options}})
    output = run.stdout + run.stderr
    assert run.returncode == 2, output
    failed = [line for line in output.splitlines() if line.startswith('fatal:')]
    assert len(failed) == 1, output
    assert 'server_discovery' in failed[0] and expected in failed[0], failed[0]
    assert 'Traceback' not in output
    assert not result_path.exists()
