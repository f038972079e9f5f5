"""The collection's SRV playbook end to end: srv_record -> srv_info -> federation_check.

The lab's real Synapse is named synapse.lab.test, a dynamic zone on the lab's BIND that the
playbook publishes the SRV records in. Nothing answers https://synapse.lab.test, so remote
servers fall back to SRV (spec step 4). nginx on a fresh address, port 8448, proxies
/_matrix to Synapse with a certificate chosen by the test: one valid only for the SRV target
(the most common SRV mistake), or one valid for the server name too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import dns.message
import dns.query
import dns.rdatatype
import pytest

SERVER = 'synapse.lab.test'
TARGET = 'matrix.synapse.lab.test'


class SrvFederationLab:
    """The zone of SERVER (dynamic, with the addresses in it) and the target's vhost."""

    def __init__(self, lab, synapse):
        self.lab = lab
        self.synapse = synapse
        self.target_address = lab.new_ipv4()
        self.zone = lab.bind.dynamic_zone(SERVER)
        # The server name's own address has nothing listening: its well-known fails.
        self.zone.add_a(SERVER, lab.dead_address).add_a(TARGET, self.target_address)
        self.vhost = None

    def serve_target(self, certificate_names):
        """(Re)configure nginx at the SRV target with a certificate for `certificate_names`."""
        if self.vhost is not None:
            self.lab.nginx.remove(self.vhost)
        self.vhost = self.lab.nginx.vhost(TARGET, [self.target_address], port=8448,
                                          cert=self.lab.ca.issue(certificate_names))
        self.vhost.proxy('/_matrix', self.synapse.url)
        self.lab.reload()

    def close(self):
        if self.vhost is not None:
            self.lab.nginx.remove(self.vhost)
        # Drop the updates' journal too: other tests serve SERVER from a static zone file.
        self.lab.bind.reset_dynamic_zone(SERVER)
        self.lab.bind.remove_zone(SERVER)
        self.lab.reload()

    def playbook_vars(self):
        key = self.zone.key
        return {
            'server_name': SERVER, 'srv_dns_server': self.lab.bind.address,
            'srv_dns_port': self.lab.bind.port, 'srv_zone': SERVER, 'srv_key_name': key.name,
            'srv_key_secret': key.secret, 'srv_key_algorithm': key.algorithm,
            'srv_targets': [{'target': TARGET, 'port': 8448}],
            'nameservers': self.lab.nameservers, 'dns_port': self.lab.dns_port,
            'ca_path': self.lab.ca_path, 'timeout': 5,
        }


@pytest.fixture(scope='module')
def srv_federation(lab, synapse):
    scenario = SrvFederationLab(lab, synapse)
    yield scenario
    scenario.close()


def run_srv_playbook(tmp_path, extra_vars, *args):
    """ansible-playbook homeserver.delegation.srv; return ({task name: result}, process)."""
    vars_file = tmp_path / 'vars.json'
    vars_file.write_text(json.dumps(extra_vars), encoding='utf-8')
    vars_file.chmod(0o600)
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0')
    process = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), 'homeserver.delegation.srv',
         '-e', f'@{vars_file}', *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    output = json.loads(process.stdout)
    tasks = {task['task']['name']: task['hosts']['localhost'] for task in output['plays'][0]['tasks']}
    return tasks, process


def error_codes(report):
    return sorted({problem['code'] for problem in report['problems'] if problem['severity'] == 'error'})


def test_certificate_only_for_the_srv_target_is_reported(srv_federation, tmp_path):
    srv_federation.serve_target([TARGET])
    tasks, process = run_srv_playbook(tmp_path, srv_federation.playbook_vars())
    assert process.returncode == 2
    assert tasks['Publish the SRV records']['records'] == [
        {'priority': 10, 'weight': 0, 'port': 8448, 'target': TARGET + '.'}]
    assert tasks['Check the records as resolvers serve them, and their targets']['problems'] == []

    report = tasks['Connect to every target as remote homeservers do']['servers'][SERVER]
    assert report['discovery']['method'] == 'srv'
    assert error_codes(report) == ['certificate_name_mismatch']
    (connection,) = report['connections']
    assert connection['address'] == srv_federation.target_address
    assert connection['tls']['sni'] == SERVER  # remote servers ask for the server name
    assert connection['certificate']['dns_names'] == [TARGET]

    verdict = tasks['Check that federation works through them']
    assert verdict['failed'] is True
    assert f'must be valid for {SERVER}' in verdict['msg']
    assert srv_federation.zone.key.secret not in process.stdout + process.stderr


def test_certificate_for_the_server_name_federates(srv_federation, tmp_path):
    srv_federation.serve_target([SERVER, TARGET])
    tasks, process = run_srv_playbook(tmp_path, srv_federation.playbook_vars())
    assert process.returncode == 0, process.stdout[-4000:]
    federation = tasks['Connect to every target as remote homeservers do']
    assert federation['federation_ok'] is True
    report = federation['servers'][SERVER]
    assert report['discovery']['method'] == 'srv'
    (connection,) = report['connections']
    assert connection['ok'] is True
    assert connection['server_keys']['server_name'] == SERVER  # the real Synapse answered
    tasks, process = run_srv_playbook(tmp_path, srv_federation.playbook_vars())
    assert process.returncode == 0
    assert tasks['Publish the SRV records']['changed'] is False


def served_lines(lab):
    """The SRV records of SERVER as BIND serves them, as zone-file lines (asked directly)."""
    query = dns.message.make_query(f'_matrix-fed._tcp.{SERVER}.', dns.rdatatype.SRV)
    response = dns.query.tcp(query, lab.bind.address, port=lab.bind.port, timeout=5)
    return sorted(f'{rrset.name} {rrset.ttl} IN SRV {rdata}' for rrset in response.answer for rdata in rrset)


def test_check_mode_changes_nothing_and_skips_the_checks(srv_federation, tmp_path):
    before = served_lines(srv_federation.lab)
    moved = dict(srv_federation.playbook_vars(), srv_targets=[{'target': TARGET, 'port': 8449}])
    tasks, process = run_srv_playbook(tmp_path, moved, '--check', '--diff')
    assert process.returncode == 0, process.stdout[-4000:]
    published = tasks['Publish the SRV records']
    assert published['changed'] is True
    assert published['before'] == before
    assert published['after'] == [f'_matrix-fed._tcp.{SERVER}. 3600 IN SRV 10 0 8449 {TARGET}.']
    assert tasks['Connect to every target as remote homeservers do'].get('skipped') is True
    assert served_lines(srv_federation.lab) == before
