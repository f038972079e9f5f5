# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verification engine against hostile servers: real TLS with the lab CA, real BIND and nginx.

- A server that answers one byte per second, in the headers or in the body: the lookup,
  well_known_info (its /_matrix/client/versions check included) and federation_check give up
  at the deadline with a timeout problem. Each byte comes well within the 3 s timeout of one
  read, so only the deadline of the whole request ends them. The time bound asserted is a
  generous "it did not hang" (the drip would last minutes), not a measurement.
- A name with several addresses that all answer one byte per second: each address would time
  out in turn (N x timeout); the name's budget (name_timeout) ends the lookup, well_known_info
  and federation_check after it with the name_timeout problem, whatever the number of addresses.
- Documents nested 10,000 levels deep: a problem code, not a crash.
- A name resolving to a public address (2001:db8::/32, a documentation range, on the
  namespace's loopback) whose well-known redirects to a loopback address: refused by
  default, followed with allow_internal_redirects.
"""

from __future__ import annotations

import time

import pytest
import yaml

from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader

from ansible_collections.homeserver.delegation.plugins.module_utils._federation import federation_check
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import NetworkTransport
from ansible_collections.homeserver.delegation.plugins.module_utils._well_known_info import well_known_info

from test_verification_modules import ansible_playbook as run_ansible_playbook

ZONE = "hostile.lab.test"
SLOW_HEADERS = "slow-headers." + ZONE
SLOW_BODY = "slow-body." + ZONE
VERSIONS = "versions." + ZONE
DEEP = "deep." + ZONE
PUBLIC = "public." + ZONE
INTRANET = "intranet." + ZONE
SLOW_MANY = "slow-many." + ZONE
SLOW_MANY_ADDRESSES = 4
TIMEOUT = 3
# Less than two timeouts: the third and fourth addresses of SLOW_MANY are never waited for.
NAME_TIMEOUT = 4
# Without the budget SLOW_MANY alone takes SLOW_MANY_ADDRESSES x TIMEOUT = 12 s.
NAME_NO_HANG = NAME_TIMEOUT + 5
# No timing is measured: this only tells "gave up at the deadline" from "hung on the drip".
NO_HANG = TIMEOUT + 5
NESTED = "[" * 10000 + "]" * 10000


def codes(problems, severity=None):
    return sorted(set(problem["code"] for problem in problems if severity in (None, problem["severity"])))


class HostileLab:
    """The zone, the slow servers and the virtual hosts of these scenarios."""

    def __init__(self, lab):
        self.lab = lab
        self.zone = lab.bind.static_zone(ZONE)
        self.slow_headers_ip = lab.new_ipv4()
        self.slow_body_ip = lab.new_ipv4()
        self.nginx_ip = lab.new_ipv4()
        self.internal_ip = lab.new_ipv4()
        self.public_ip = lab.new_public_ipv6()
        self.zone.add_a(SLOW_HEADERS, self.slow_headers_ip)
        self.zone.add_a(SLOW_BODY, self.slow_body_ip)
        self.zone.add_a(VERSIONS, self.nginx_ip)
        self.zone.add_a(DEEP, self.nginx_ip)
        self.zone.add_aaaa(PUBLIC, self.public_ip)
        self.zone.add_a(INTRANET, self.internal_ip)
        self.zone.add_a("internal-only." + ZONE, self.internal_ip)
        self.slow_headers = lab.slow_https(SLOW_HEADERS, self.slow_headers_ip, drip="headers")
        self.slow_body = lab.slow_https(SLOW_BODY, self.slow_body_ip, drip="body")
        self.slow_federation = lab.slow_https(SLOW_BODY, self.slow_body_ip, port=8448, drip="body")
        self.slow_many = []
        for dummy in range(SLOW_MANY_ADDRESSES):
            address = lab.new_ipv4()
            self.zone.add_a(SLOW_MANY, address)
            self.slow_many.append(lab.slow_https(SLOW_MANY, address, drip="headers"))
            self.slow_many.append(lab.slow_https(SLOW_MANY, address, port=8448, drip="body"))
        self.vhosts = []
        site = self.vhost(VERSIONS, [self.nginx_ip])
        site.well_known_client("https://" + SLOW_BODY)
        deep = self.vhost(DEEP, [self.nginx_ip])
        deep.serve("/.well-known/matrix/server", '{"m.server": ' + NESTED + "}")
        deep.serve("/.well-known/matrix/client", '{"m.homeserver": ' + NESTED + "}", cors=True)
        public = self.vhost(PUBLIC, [self.public_ip])
        public.redirect("/.well-known/matrix/server", "https://%s/.well-known/matrix/server" % self.internal_ip, 302)
        public.redirect("/.well-known/matrix/client", "https://%s/.well-known/matrix/client" % INTRANET, 302)
        internal = self.vhost(self.internal_ip, [self.internal_ip])
        internal.well_known_server("internal-only." + ZONE + ":443")
        self.vhost(INTRANET, [self.internal_ip]).well_known_client("https://internal-only." + ZONE)
        lab.reload()

    def vhost(self, *args, **kwargs):
        vhost = self.lab.nginx.vhost(*args, **kwargs)
        self.vhosts.append(vhost)
        return vhost

    def options(self, **extra):
        return dict({"nameservers": self.lab.nameservers, "dns_port": self.lab.dns_port,
                     "ca_path": self.lab.ca_path, "timeout": TIMEOUT}, **extra)

    def transport(self, **extra):
        return NetworkTransport(**self.options(**extra))

    def internal_requests(self):
        """Requests nginx logged for the internal address (as Host) or the intranet name."""
        log = (self.lab.nginx.directory / "access.log").read_text(encoding="utf-8", errors="replace")
        return [line for line in log.splitlines()
                if '"%s"' % self.internal_ip in line or '"%s"' % INTRANET in line]


@pytest.fixture(scope="module")
def hostile(lab):
    scenario = HostileLab(lab)
    yield scenario
    lab.nginx.vhosts = [vhost for vhost in lab.nginx.vhosts if vhost not in scenario.vhosts]
    lab.bind.remove_zone(ZONE)
    lab.reload()


def lookup(options, *names):
    plugin = lookup_loader.get("homeserver.delegation.server_discovery")
    return plugin.run(list(names), variables={}, **options)


# A server that answers one byte per second ----------------------------------------------------

@pytest.mark.parametrize("name", [SLOW_HEADERS, SLOW_BODY])
def test_lookup_gives_up_on_a_well_known_sent_one_byte_per_second(hostile, name):
    started = time.monotonic()
    (result,) = lookup(hostile.options(), name)
    assert time.monotonic() - started < NO_HANG
    assert "well_known_timeout" in codes(result["problems"])
    assert "no complete response within 3 s" in result["well_known_error"]
    # Discovery fell back as the specification says.
    assert result["method"] == "default_port" and result["delegated_server"] is None
    server = hostile.slow_headers if name == SLOW_HEADERS else hostile.slow_body
    assert ("/.well-known/matrix/server", name) in server.requests


@pytest.mark.parametrize("name", [SLOW_HEADERS, SLOW_BODY])
def test_well_known_info_gives_up_on_documents_sent_one_byte_per_second(hostile, name):
    started = time.monotonic()
    result = well_known_info(hostile.transport(), name)
    assert time.monotonic() - started < NO_HANG
    assert codes(result["server"]["problems"]) == ["timeout"]
    assert codes(result["client"]["problems"]) == ["timeout"]
    assert "no complete response within 3 s" in result["client"]["problems"][0]["message"]
    assert result["server"]["valid"] is False and result["client"]["valid"] is False


def test_well_known_info_gives_up_on_a_versions_answer_sent_one_byte_per_second(hostile):
    started = time.monotonic()
    result = well_known_info(hostile.transport(), VERSIONS, ("client",))
    assert time.monotonic() - started < NO_HANG
    client = result["client"]
    assert client["base_url"] == "https://" + SLOW_BODY
    assert codes(client["problems"]) == ["client_versions_failed"]
    assert "no complete response within 3 s" in client["problems"][0]["message"]
    assert ("/_matrix/client/versions", SLOW_BODY) in hostile.slow_body.requests


def test_federation_check_gives_up_on_a_well_known_sent_one_byte_per_second(hostile):
    started = time.monotonic()
    result = federation_check(hostile.transport(), [SLOW_HEADERS])
    assert time.monotonic() - started < NO_HANG
    report = result["servers"][SLOW_HEADERS]
    assert result["federation_ok"] is False
    assert "well_known_timeout" in codes(report["problems"])
    # Nothing listens on port 8448 there: discovery's fallback target fails at once.
    assert "connection_failed" in codes(report["problems"])


def test_federation_check_gives_up_on_a_target_answering_one_byte_per_second(hostile):
    name = SLOW_BODY + ":8448"
    started = time.monotonic()
    result = federation_check(hostile.transport(), [name])
    assert time.monotonic() - started < NO_HANG
    report = result["servers"][name]
    assert result["federation_ok"] is False
    assert codes(report["problems"], "error") == ["connection_timeout"]
    (connection,) = report["connections"]
    # The TLS handshake succeeded (real certificate of the lab CA); the answers never completed.
    assert connection["tls"]["verified"] is True
    messages = " ".join(problem["message"] for problem in connection["problems"])
    assert "the deadline of the whole probe" in messages
    assert ("/_matrix/federation/v1/version", name) in hostile.slow_federation.requests


# A name whose every address answers one byte per second -----------------------------------

def slow_many_requests(hostile):
    return sum(len(server.requests) for server in hostile.slow_many)


def test_lookup_of_a_name_with_four_dripping_addresses_ends_within_name_timeout(hostile):
    requests_before = slow_many_requests(hostile)
    started = time.monotonic()
    with pytest.raises(AnsibleLookupError) as caught:
        lookup(hostile.options(name_timeout=NAME_TIMEOUT), SLOW_MANY)
    assert time.monotonic() - started < NAME_NO_HANG
    message = str(caught.value)
    assert message.startswith("server_discovery: %s: " % SLOW_MANY)
    assert "(name_timeout: the time budget of the name (name_timeout, 4 s) ran out during GET https://%s" \
        "/.well-known/matrix/server" % SLOW_MANY in message
    # Two addresses were tried (the first for the whole timeout, the second for the rest).
    assert 1 <= slow_many_requests(hostile) - requests_before < SLOW_MANY_ADDRESSES


def test_well_known_info_of_a_name_with_four_dripping_addresses_ends_within_name_timeout(hostile):
    started = time.monotonic()
    result = well_known_info(hostile.transport(), SLOW_MANY, name_timeout=NAME_TIMEOUT)
    assert time.monotonic() - started < NAME_NO_HANG
    assert "name_timeout" in codes(result["problems"], "error")
    # Every address of the server document is reported, each as timed out.
    entries = result["server"]["addresses"]
    assert len(entries) == SLOW_MANY_ADDRESSES
    assert set(entry["error_code"] for entry in entries) == {"timeout"}
    assert codes(result["client"]["problems"]) == ["timeout"]


def test_federation_check_of_a_name_with_four_dripping_addresses_ends_within_name_timeout(hostile):
    started = time.monotonic()
    result = federation_check(hostile.transport(), [SLOW_MANY], name_timeout=NAME_TIMEOUT)
    assert time.monotonic() - started < NAME_NO_HANG
    report = result["servers"][SLOW_MANY]
    assert result["federation_ok"] is False
    assert "name_timeout" in codes(report["problems"], "error")
    assert "name_timeout" in result["msg"]
    (budget,) = [problem for problem in report["problems"] if problem["code"] == "name_timeout"]
    assert "(name_timeout, 4 s)" in budget["message"]
    # The well-known requests run in parallel (about one timeout); the probes of the targets on
    # port 8448, also dripping, get the rest of the budget and are cut short with whatever
    # else was still running then (the message names the first of them to be cut short).
    assert " ran out during " in budget["message"]
    # What was learnt before the budget ran out is kept: every address's well-known and probe.
    assert len(report["well_known"]["server"]["addresses"]) == SLOW_MANY_ADDRESSES
    assert len(report["connections"]) == SLOW_MANY_ADDRESSES
    assert all(codes(connection["problems"]) == ["connection_timeout"] for connection in report["connections"])


# Documents nested 10,000 levels deep ------------------------------------------------------------

def test_well_known_info_reports_documents_nested_10000_deep_as_not_json(hostile):
    result = well_known_info(hostile.transport(), DEEP)
    for document in ("server", "client"):
        assert codes(result[document]["problems"]) == ["not_json"], document
        assert "nested more than 64 levels deep" in result[document]["problems"][0]["message"]
        assert result[document]["content"] is None


# Redirects from a public name into internal addresses ------------------------------------------

def test_redirects_from_a_public_name_into_loopback_are_refused_before_connecting(hostile):
    before = len(hostile.internal_requests())
    result = well_known_info(hostile.transport(), PUBLIC)
    server, client = result["server"], result["client"]
    assert codes(server["problems"]) == ["redirect_to_internal_address"]
    assert server["delegated_server"] is None and server["valid"] is False
    assert hostile.internal_ip in server["problems"][0]["message"]
    assert "redirect_to_internal_address" in codes(client["problems"])
    assert client["base_url"] is None
    (result,) = lookup(hostile.options(), PUBLIC)
    assert "redirect_to_internal_address" in codes(result["problems"])
    assert result["method"] == "default_port"
    # nginx never saw a request for the internal virtual hosts.
    assert len(hostile.internal_requests()) == before


def test_redirects_into_loopback_are_followed_with_allow_internal_redirects(hostile):
    result = well_known_info(hostile.transport(allow_internal_redirects=True), PUBLIC, ("server",))
    assert result["server"]["problems"] == []
    assert result["server"]["delegated_server"] == "internal-only." + ZONE + ":443"
    (result,) = lookup(hostile.options(allow_internal_redirects=True), PUBLIC)
    assert result["delegated_server"] == "internal-only." + ZONE + ":443"
    assert "redirect_to_internal_address" not in codes(result["problems"])


def test_the_option_reaches_the_modules_and_the_lookup_in_a_playbook(hostile, tmp_path):
    options = hostile.options()
    tasks = []
    for allow in (False, True):
        tasks.append({"name": "well_known_info, allow_internal_redirects=%s" % allow,
                      "homeserver.delegation.well_known_info": dict(
                          server_name=PUBLIC, documents=["server"], allow_internal_redirects=allow, **options)})
        tasks.append({"name": "federation_check, allow_internal_redirects=%s" % allow,
                      "homeserver.delegation.federation_check": dict(
                          server_names=[PUBLIC], allow_internal_redirects=allow, fail_on_error=False, **options)})
        tasks.append({"name": "server_discovery, allow_internal_redirects=%s" % allow,
                      "ansible.builtin.debug": {"msg": "{{ lookup('homeserver.delegation.server_discovery', '%s', "
                                                       "allow_internal_redirects=%s, **options) }}" % (PUBLIC, allow)},
                      "vars": {"options": options}})
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Internal redirects", "hosts": "localhost", "connection": "local",
                                         "gather_facts": False, "tasks": tasks}]))
    results, completed = run_ansible_playbook(tmp_path, [str(playbook)])
    assert completed.returncode == 0, completed.stdout[-4000:]
    refused_info, refused_federation, refused_lookup, allowed_info, allowed_federation, allowed_lookup = results
    assert codes(refused_info["problems"]) == ["redirect_to_internal_address"]
    assert "redirect_to_internal_address" in codes(refused_federation["servers"][PUBLIC]["problems"])
    assert "redirect_to_internal_address" in codes(refused_lookup["msg"]["problems"])
    assert allowed_info["problems"] == []
    assert allowed_info["server"]["delegated_server"] == "internal-only." + ZONE + ":443"
    assert allowed_federation["servers"][PUBLIC]["discovery"]["delegated_server"] == "internal-only." + ZONE + ":443"
    assert allowed_lookup["msg"]["delegated_server"] == "internal-only." + ZONE + ":443"


def test_name_timeout_reaches_the_modules_and_the_lookup_in_a_playbook(hostile, tmp_path):
    options = hostile.options(name_timeout=NAME_TIMEOUT)
    tasks = [
        {"name": "well_known_info with name_timeout",
         "homeserver.delegation.well_known_info": dict(server_name=SLOW_MANY, **options)},
        {"name": "federation_check with name_timeout",
         "homeserver.delegation.federation_check": dict(server_names=[SLOW_MANY], fail_on_error=False, **options)},
        {"name": "server_discovery with name_timeout",
         "ansible.builtin.debug": {"msg": "{{ lookup('homeserver.delegation.server_discovery', '%s', **options) }}"
                                          % SLOW_MANY},
         "vars": {"options": options}, "ignore_errors": True},
    ]
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Name budget", "hosts": "localhost", "connection": "local",
                                         "gather_facts": False, "tasks": tasks}]))
    started = time.monotonic()
    (info, federation, discovery), completed = run_ansible_playbook(tmp_path, [str(playbook)])
    # Three budgets one after the other plus Ansible's start-up on a busy machine: "no hang"
    # only (without the budget the well-known drip alone would last minutes per address).
    assert time.monotonic() - started < 60, completed.stdout[-4000:]
    assert "name_timeout" in codes(info["problems"])
    assert "name_timeout" in codes(federation["servers"][SLOW_MANY]["problems"])
    assert discovery["failed"] is True
    assert "(name_timeout: the time budget of the name (name_timeout, 4 s) ran out" in discovery["msg"]
