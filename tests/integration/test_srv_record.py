"""homeserver.delegation.srv_record against a real BIND 9 with a TSIG-protected dynamic zone.

The module runs through ansible-playbook (playbooks/srv_record.yml). What it did is checked by
asking BIND directly with dnspython, independently of the module: the SRV RRset, and the SOA
serial, which BIND raises by one for every update it applies (so "nothing was sent" and "one
update" are visible). The last tests resolve the server name with the discovery lookup
through the records the module wrote.
"""

from __future__ import annotations

import itertools
import json

import dns.message
import dns.query
import dns.rdatatype
import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils import _srv_record
from ansible_collections.homeserver.delegation.tests.lab.bind import new_tsig_key

ZONE = 'srv.test'
_names = itertools.count(1)


class SrvLab:
    """The dynamic zone of this module and the keys that may, or may not, update it."""

    def __init__(self, lab):
        self.lab = lab
        self.zone = lab.bind.dynamic_zone(ZONE)
        self.key = self.zone.key
        # Known to named, allowed to update nothing: updates signed with it are REFUSED.
        self.stranger = lab.bind.add_key(new_tsig_key('stranger.srv.test'))
        self.synapse_address = lab.new_ipv4()
        self.zone.add_a(f'synapse.{ZONE}', self.synapse_address)
        self.zone.add_a(f'synapse2.{ZONE}', lab.new_ipv4())
        # The server name of the discovery test: an address where nothing listens, so the
        # well-known request fails and discovery goes on to SRV (spec step 4).
        self.zone.add_a(f'delegated.{ZONE}', lab.dead_address)
        lab.reload()

    def options(self, server_name, **overrides):
        """srv_record options for `server_name`, signed with the zone's key."""
        options = {
            'server': self.lab.bind.address, 'port': self.lab.bind.port, 'zone': ZONE,
            'key_name': self.key.name, 'key_secret': self.key.secret,
            'key_algorithm': self.key.algorithm, 'server_name': server_name,
            'targets': [{'target': f'synapse.{ZONE}', 'port': 8448}],
        }
        options.update(overrides)
        return options

    def _ask(self, name, rdtype):
        query = dns.message.make_query(name, rdtype)
        return dns.query.tcp(query, self.lab.bind.address, port=self.lab.bind.port, timeout=5)

    def served(self, server_name, service='_matrix-fed._tcp'):
        """(ttl, {"prio weight port target"}) as BIND serves them now; (None, set()) if none."""
        for rrset in self._ask(f'{service}.{server_name}.', dns.rdatatype.SRV).answer:
            if rrset.rdtype == dns.rdatatype.SRV:
                return rrset.ttl, {rdata.to_text() for rdata in rrset}
        return None, set()

    def serial(self):
        """The zone's SOA serial: BIND raises it once per applied update."""
        return self._ask(f'{ZONE}.', dns.rdatatype.SOA).answer[0][0].serial


@pytest.fixture(scope='module')
def srv(lab):
    scenario = SrvLab(lab)
    yield scenario
    lab.bind.remove_zone(ZONE)
    lab.reload()


@pytest.fixture
def server_name():
    """A server name of its own for each test, inside the dynamic zone."""
    return f'hs{next(_names)}.{ZONE}'


@pytest.fixture
def srv_record(ansible_playbook, tmp_path):
    """Run srv_record through ansible-playbook; return (process, what the task returned)."""
    def run(options, check_mode=False):
        result_path = tmp_path / f'result-{len(list(tmp_path.iterdir()))}.json'
        process = ansible_playbook('srv_record.yml', {
            'srv_options': options, 'srv_check_mode': check_mode, 'result_path': str(result_path)})
        assert result_path.exists(), process.stdout + process.stderr
        return process, json.loads(result_path.read_text(encoding='utf-8'))
    return run


def line(server_name, ttl, rdata, service='_matrix-fed._tcp'):
    return f'{service}.{server_name}. {ttl} IN SRV {rdata}'


# Create, rerun, check mode, change, remove ------------------------------------------------------

def test_create_then_rerun_changes_nothing(srv, srv_record, server_name):
    serial = srv.serial()
    process, result = srv_record(srv.options(server_name))
    assert process.returncode == 0, process.stdout
    assert result['changed'] is True
    assert srv.served(server_name) == (3600, {f'10 0 8448 synapse.{ZONE}.'})
    assert srv.serial() == serial + 1
    assert result['fqdn'] == f'_matrix-fed._tcp.{server_name}.'
    assert result['before'] == []
    assert result['after'] == [line(server_name, 3600, f'10 0 8448 synapse.{ZONE}.')]
    assert result['records'] == [{'priority': 10, 'weight': 0, 'port': 8448, 'target': f'synapse.{ZONE}.'}]

    process, again = srv_record(srv.options(server_name))
    assert process.returncode == 0, process.stdout
    assert again['changed'] is False
    assert again['before'] == again['after'] == result['after']
    assert srv.serial() == serial + 1


def test_check_mode_reports_the_change_and_sends_nothing(srv, srv_record, server_name):
    srv_record(srv.options(server_name))
    serial = srv.serial()
    wanted = [{'target': f'synapse2.{ZONE}', 'port': 443, 'priority': 5, 'weight': 10}]
    process, result = srv_record(srv.options(server_name, targets=wanted), check_mode=True)
    assert process.returncode == 0, process.stdout
    assert result['changed'] is True
    assert result['diff']['before'] == line(server_name, 3600, f'10 0 8448 synapse.{ZONE}.') + '\n'
    assert result['diff']['after'] == line(server_name, 3600, f'5 10 443 synapse2.{ZONE}.') + '\n'
    assert '+' + line(server_name, 3600, f'5 10 443 synapse2.{ZONE}.') in process.stdout  # --diff output
    assert srv.served(server_name) == (3600, {f'10 0 8448 synapse.{ZONE}.'})
    assert srv.serial() == serial


def test_change_a_target_in_one_update(srv, srv_record, server_name):
    srv_record(srv.options(server_name, targets=[
        {'target': f'synapse.{ZONE}', 'port': 8448, 'priority': 10},
        {'target': f'synapse2.{ZONE}', 'port': 8448, 'priority': 20}]))
    serial = srv.serial()
    process, result = srv_record(srv.options(server_name, targets=[
        {'target': f'synapse.{ZONE}', 'port': 8448, 'priority': 10},
        {'target': f'synapse2.{ZONE}', 'port': 443, 'priority': 20}]))
    assert process.returncode == 0, process.stdout
    assert result['changed'] is True
    assert srv.served(server_name) == (3600, {f'10 0 8448 synapse.{ZONE}.', f'20 0 443 synapse2.{ZONE}.'})
    assert srv.serial() == serial + 1


def test_ttl_change_replaces_the_record_set(srv, srv_record, server_name):
    srv_record(srv.options(server_name))
    process, result = srv_record(srv.options(server_name, ttl=300))
    assert process.returncode == 0, process.stdout
    assert result['changed'] is True and result['ttl'] == 300
    assert srv.served(server_name) == (300, {f'10 0 8448 synapse.{ZONE}.'})


def test_remove(srv, srv_record, server_name):
    srv_record(srv.options(server_name, targets=[
        {'target': f'synapse.{ZONE}', 'port': 8448}, {'target': f'synapse2.{ZONE}', 'port': 8448}]))
    process, result = srv_record(srv.options(
        server_name, state='absent', targets=[{'target': f'synapse2.{ZONE}', 'port': 8448}]))
    assert process.returncode == 0, process.stdout
    assert result['changed'] is True
    assert srv.served(server_name) == (3600, {f'10 0 8448 synapse.{ZONE}.'})

    process, result = srv_record(srv.options(server_name, state='absent', targets=[]))
    assert process.returncode == 0, process.stdout
    assert result['changed'] is True and result['records'] == [] and result['after'] == []
    assert srv.served(server_name) == (None, set())

    process, result = srv_record(srv.options(server_name, state='absent', targets=[]))
    assert result['changed'] is False


def test_legacy_service_only_when_asked_and_with_a_warning(srv, srv_record, server_name):
    process, result = srv_record(srv.options(server_name, service='_matrix._tcp'))
    assert process.returncode == 0, process.stdout
    assert srv.served(server_name, '_matrix._tcp') == (3600, {f'10 0 8448 synapse.{ZONE}.'})
    assert srv.served(server_name) == (None, set())
    assert any('deprecated' in warning for warning in result['warnings'])


def test_secret_is_never_shown(srv, srv_record, server_name):
    process, result = srv_record(srv.options(server_name))
    assert process.returncode == 0
    assert srv.key.secret not in process.stdout + process.stderr + json.dumps(result)


# Errors -----------------------------------------------------------------------------------------

def where(srv, port=None):
    return f'DNS server {srv.lab.bind.address} port {port or srv.lab.bind.port}, zone {ZONE}.'


def assert_failed(process, result, *fragments):
    assert process.returncode != 0
    assert result['failed'] is True
    for fragment in fragments:
        assert fragment in result['msg']
    assert 'Traceback' not in process.stdout + process.stderr
    assert 'fatal: [localhost]' in process.stdout


def test_wrong_secret_is_a_clear_error_and_changes_nothing(srv, srv_record, server_name):
    srv_record(srv.options(server_name))
    serial = srv.serial()
    wrong = new_tsig_key(srv.key.name).secret
    process, result = srv_record(srv.options(server_name, key_secret=wrong, targets=[
        {'target': f'synapse2.{ZONE}', 'port': 443}]))
    assert_failed(process, result, where(srv), 'BADSIG', 'key_secret')
    assert wrong not in process.stdout + process.stderr
    assert srv.served(server_name) == (3600, {f'10 0 8448 synapse.{ZONE}.'})
    assert srv.serial() == serial


@pytest.mark.parametrize('overrides', [
    {'key_name': 'nobody.srv.test'},
    {'key_algorithm': 'hmac-sha512'},
])
def test_unknown_key_is_a_clear_error(srv, srv_record, server_name, overrides):
    process, result = srv_record(srv.options(server_name, **overrides))
    assert_failed(process, result, where(srv), 'BADKEY', 'key_name and key_algorithm')
    assert srv.served(server_name) == (None, set())


def test_key_without_permission_is_refused(srv, srv_record, server_name):
    process, result = srv_record(srv.options(
        server_name, key_name=srv.stranger.name, key_secret=srv.stranger.secret))
    assert_failed(process, result, where(srv), 'refused the update', f"'{srv.stranger.name}'", 'update-policy')
    assert srv.served(server_name) == (None, set())


def test_bad_base64_secret_is_refused_before_sending(srv, srv_record, server_name):
    process, result = srv_record(srv.options(server_name, key_secret='not*base64', port=9))
    assert_failed(process, result, f"TSIG key '{srv.key.name}' is not valid base64")


def test_name_outside_the_zone_is_refused_before_sending(srv, srv_record):
    # Port 9 has no DNS server: the error is about the zone, so nothing was sent.
    process, result = srv_record(srv.options('matrix.example.org', port=9))
    assert_failed(process, result, f'_matrix-fed._tcp.matrix.example.org. is not inside zone {ZONE}.')


def test_zone_the_server_does_not_serve_is_refused(srv, srv_record):
    process, result = srv_record(srv.options('elsewhere.test', zone='elsewhere.test'))
    assert_failed(process, result, 'zone elsewhere.test.', 'REFUSED', 'does not serve this zone')


@pytest.mark.parametrize('server_name, fragment', [
    (f'hs.{ZONE}:8448', 'explicit port'),
    ('127.0.0.1', 'IP literal'),
])
def test_server_names_srv_cannot_delegate(srv, srv_record, server_name, fragment):
    process, result = srv_record(srv.options(server_name))
    assert_failed(process, result, fragment, 'never look up SRV')


def test_unavailable_target_is_refused(srv, srv_record, server_name):
    process, result = srv_record(srv.options(server_name, targets=[{'target': '.', 'port': 8448}]))
    assert_failed(process, result, 'service not available')


def test_unreachable_server(srv, srv_record, server_name):
    dead = srv.lab.dead_address
    process, result = srv_record(srv.options(server_name, server=dead))
    assert_failed(process, result, f'DNS server {dead} port 53, zone {ZONE}.', 'connection refused')


def test_server_that_never_answers(srv, srv_record, server_name):
    silent = srv.lab.start_silent_dns()
    process, result = srv_record(srv.options(server_name, server=silent, port=53, timeout=1))
    assert_failed(process, result, f'DNS server {silent} port 53', 'no answer within 1 seconds')


def test_concurrent_change_is_not_overwritten(srv, server_name):
    """Someone else changes the records between the read and the update: BIND refuses ours."""
    options = srv.options(server_name)
    request = _srv_record.validate_request(options)
    transport = _srv_record.DnsTransport(options['server'], options['port'], 5)
    ttl, current = _srv_record.query_srv(transport, request)
    plan = _srv_record.plan_change(ttl, current, request)
    racer = srv.options(server_name, targets=[{'target': f'synapse2.{ZONE}', 'port': 1}])
    _srv_record.ensure_srv_records(racer)
    with pytest.raises(_srv_record.SrvRecordError, match='someone else updated them'):
        _srv_record.send_update(transport, request, plan)
    assert srv.served(server_name) == (3600, {f'10 0 1 synapse2.{ZONE}.'})


# Discovery through the new record --------------------------------------------------------------

def discover(srv, ansible_playbook, tmp_path, name):
    result_path = tmp_path / 'discovery.json'
    process = ansible_playbook('server_discovery.yml', {
        'server_names': [name], 'result_path': str(result_path),
        'discovery_options': {'nameservers': srv.lab.nameservers, 'dns_port': srv.lab.dns_port,
                              'ca_path': srv.lab.ca_path, 'timeout': 3}})
    assert process.returncode == 0, process.stdout + process.stderr
    (result,) = json.loads(result_path.read_text(encoding='utf-8'))
    return result


def test_discovery_follows_the_new_record(srv, srv_record, ansible_playbook, tmp_path):
    name = f'delegated.{ZONE}'
    process, _result = srv_record(srv.options(name, targets=[{'target': f'synapse.{ZONE}', 'port': 8449}]))
    assert process.returncode == 0, process.stdout
    try:
        result = discover(srv, ansible_playbook, tmp_path, name)
        assert result['method'] == 'srv'
        assert [(t['host'], t['port'], t['address']) for t in result['targets']] == [
            (f'synapse.{ZONE}', 8449, srv.synapse_address)]
        # The pitfall the docs put first: the certificate must be valid for the server name.
        assert result['tls_server_name'] == name
        assert result['host_header'] == name
    finally:
        process, _result = srv_record(srv.options(name, state='absent', targets=[]))
        assert process.returncode == 0, process.stdout
    assert discover(srv, ansible_playbook, tmp_path, name)['method'] == 'default_port'
