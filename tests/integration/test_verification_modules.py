# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""well_known_info, srv_info and federation_check against real BIND, nginx and Synapse.

The Synapse of the lab is named synapse.lab.test, so every federation scenario checks that
name: its well-known (nginx, test CA) delegates to matrix.synapse.lab.test:8448, where nginx
proxies /_matrix to the real Synapse over both an IPv4 and an IPv6 loopback address. Each
test rewrites the zone and the virtual hosts for its scenario; the main paths run the modules
through ansible-playbook, the faults call the same code in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.homeserver.delegation.plugins.module_utils._federation import federation_check
from ansible_collections.homeserver.delegation.plugins.module_utils._processes import usable_cpus
from ansible_collections.homeserver.delegation.plugins.module_utils._srv_info import srv_info
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import NetworkTransport
from ansible_collections.homeserver.delegation.plugins.module_utils._well_known_info import well_known_info

SERVER = "synapse.lab.test"
HOMESERVER = "matrix.synapse.lab.test"
# Delegated to the same homeserver, whose server_name is SERVER: a classic copy-paste mistake.
MISDELEGATED = "typo.synapse.lab.test"
WK_ZONE = "wk.lab.test"
SRV_ZONE = "srv.lab.test"
CHECKOUT = Path(__file__).resolve().parents[2]


def codes(report, severity=None):
    return sorted(set(problem["code"] for problem in report["problems"]
                      if severity is None or problem["severity"] == severity))


class FederationLab:
    """The scenarios' zone and virtual hosts, rebuilt by configure()."""

    def __init__(self, lab, synapse):
        self.lab = lab
        self.synapse = synapse
        self.zone = lab.bind.static_zone(SERVER)
        self.wk_address = lab.new_ipv4()
        self.wk_other_address = lab.new_ipv4()
        self.hs_ipv4 = lab.new_ipv4()
        self.hs_ipv6 = lab.new_ipv6()
        self.nowhere_ipv6 = lab.new_ipv6()  # on lo, but nothing listens there
        self.refusing_ipv4 = lab.new_ipv4()  # loopback, nothing listens there
        self.vhosts = []

    def transport(self, **options):
        options.setdefault("timeout", 5)
        return NetworkTransport(nameservers=self.lab.nameservers, dns_port=self.lab.dns_port,
                                ca_path=self.lab.ca_path, **options)

    def connection_vars(self):
        return {"nameservers": self.lab.nameservers, "dns_port": self.lab.dns_port,
                "ca_path": self.lab.ca_path, "timeout": 5}

    def drop_vhosts(self):
        self.lab.nginx.vhosts = [vhost for vhost in self.lab.nginx.vhosts if vhost not in self.vhosts]
        self.vhosts = []

    def vhost(self, *args, **kwargs):
        vhost = self.lab.nginx.vhost(*args, **kwargs)
        self.vhosts.append(vhost)
        return vhost

    def configure(self, homeserver_cert=None, ipv6=True, ipv6_nowhere=False, split_brain=False):
        """A delegated homeserver; the arguments break one thing each."""
        self.drop_vhosts()
        self.zone.clear()
        self.zone.add_a(SERVER, self.wk_address)
        self.zone.add_a(HOMESERVER, self.hs_ipv4)
        if ipv6:
            self.zone.add_aaaa(HOMESERVER, self.nowhere_ipv6 if ipv6_nowhere else self.hs_ipv6)
        site = self.vhost(SERVER, [self.wk_address])
        site.well_known_server(HOMESERVER + ":8448", cache_control="max-age=14400")
        site.well_known_client("https://%s:8448" % HOMESERVER)
        self.zone.add_a(MISDELEGATED, self.wk_address)
        self.vhost(MISDELEGATED, [self.wk_address]).well_known_server(HOMESERVER + ":8448")
        if split_brain:
            self.zone.add_a(SERVER, self.wk_other_address)
            self.vhost(SERVER, [self.wk_other_address]).well_known_server("old.synapse.lab.test:8448")
        self.vhost(HOMESERVER, [self.hs_ipv4, self.hs_ipv6], port=8448, cert=homeserver_cert).proxy(
            "/_matrix", self.synapse.url)
        self.lab.reload()

    def configure_srv(self, working_priority):
        """SRV delegation of SERVER to a target at priority 10 and one at priority 20.

        SERVER has no address, so no well-known: discovery uses the SRV records. Only the
        target at ``working_priority`` has the homeserver behind it (nginx, a certificate for
        SERVER, Synapse); nothing listens on the other's address, which refuses connections.
        """
        self.drop_vhosts()
        self.zone.clear()
        for priority in (10, 20):
            target = "hs%d.%s" % (priority, SERVER)
            self.zone.add_srv("_matrix-fed._tcp." + SERVER, priority, 5, 8448, target)
            self.zone.add_a(target, self.hs_ipv4 if priority == working_priority else self.refusing_ipv4)
        self.vhost(SERVER, [self.hs_ipv4], port=8448).proxy("/_matrix", self.synapse.url)
        self.lab.reload()


@pytest.fixture(scope="module")
def federation_lab(lab, synapse):
    scenario = FederationLab(lab, synapse)
    yield scenario
    scenario.drop_vhosts()
    lab.bind.remove_zone(SERVER)
    lab.reload()


def run_playbook(tmp_path, tasks, extra_args=()):
    """Run tasks on localhost through ansible-playbook; return each task's result (json callback)."""
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Verification modules", "hosts": "localhost",
                                         "connection": "local", "gather_facts": False, "tasks": tasks}]))
    return ansible_playbook(tmp_path, [str(playbook), *extra_args])


def ansible_playbook(tmp_path, args):
    """Run ansible-playbook with args; return ([task results of the first play], process)."""
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="0")
    completed = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    output = json.loads(completed.stdout)
    return [task["hosts"].get("localhost") for task in output["plays"][0]["tasks"]], completed


def test_healthy_delegation_through_ansible_playbook(federation_lab, tmp_path):
    federation_lab.configure()
    connection = federation_lab.connection_vars()
    tasks = [
        {"name": "Check federation", "homeserver.delegation.federation_check": dict(server_names=[SERVER], **connection)},
        {"name": "Check the well-known documents", "homeserver.delegation.well_known_info": dict(
            server_name=SERVER, expected_server=HOMESERVER + ":8448",
            expected_base_url="https://%s:8448/" % HOMESERVER, **connection)},
        {"name": "Describe the SRV records", "homeserver.delegation.srv_info": dict(name=SERVER, **connection)},
    ]
    (federation, well_known, srv), completed = run_playbook(tmp_path, tasks, ["--check"])
    assert completed.returncode == 0, completed.stdout[-4000:]

    assert federation["changed"] is False and federation["federation_ok"] is True
    report = federation["servers"][SERVER]
    assert codes(report, "error") == []
    assert report["discovery"]["method"] == "well_known_explicit_port"
    connections = report["connections"]
    assert sorted(c["address"] for c in connections) == sorted([federation_lab.hs_ipv4, federation_lab.hs_ipv6])
    for checked in connections:
        assert checked["ok"] is True
        assert checked["tls"]["verified"] is True and checked["tls"]["sni"] == HOMESERVER
        assert checked["certificate"]["dns_names"] == [HOMESERVER]
        assert checked["version"]["server"]["name"] == "Synapse"
        assert checked["server_keys"]["server_name"] == SERVER
        assert checked["server_keys"]["verified_signatures"], "Synapse's own signature must verify"
    assert federation["msg"] == "%s: federation OK via well_known_explicit_port (2 addresses checked)" % SERVER

    assert well_known["changed"] is False and well_known["problems"] == []
    assert well_known["server"]["delegated_server"] == HOMESERVER + ":8448"
    assert well_known["server"]["cache_seconds"] == 14400
    assert well_known["client"]["cors"] == "*"
    assert well_known["client"]["versions"]["status"] == 200
    assert "v1.11" in well_known["client"]["versions"]["versions"]

    assert srv["changed"] is False and srv["effective_service"] is None and srv["problems"] == []
    assert srv["services"]["_matrix-fed._tcp"]["rcode"] == "NXDOMAIN"


def test_federation_failure_fails_the_task_unless_told_not_to(federation_lab, tmp_path):
    federation_lab.configure(ipv6_nowhere=True)
    connection = federation_lab.connection_vars()
    tasks = [
        {"name": "Check federation, tolerant", "homeserver.delegation.federation_check": dict(
            server_name=SERVER, fail_on_error=False, **connection)},
        {"name": "Check federation", "homeserver.delegation.federation_check": dict(server_names=[SERVER], **connection)},
    ]
    (tolerant, strict), completed = run_playbook(tmp_path, tasks)
    assert completed.returncode == 2
    assert tolerant.get("failed") is not True and tolerant["federation_ok"] is False
    assert strict["failed"] is True and strict["federation_ok"] is False
    assert strict["msg"] == "%s: federation FAILS via well_known_explicit_port (2 addresses checked): connection_failed" % SERVER


def test_aaaa_pointing_nowhere_while_a_works(federation_lab):
    federation_lab.configure(ipv6_nowhere=True)
    report = federation_check(federation_lab.transport(), [SERVER])["servers"][SERVER]
    assert report["federation_ok"] is False
    by_address = dict((c["address"], c) for c in report["connections"])
    assert by_address[federation_lab.hs_ipv4]["ok"] is True
    dead = by_address[federation_lab.nowhere_ipv6]
    assert dead["ok"] is False and [p["code"] for p in dead["problems"]] == ["connection_failed"]
    assert federation_lab.nowhere_ipv6 in dead["problems"][0]["message"]


def test_a_backup_srv_target_refusing_connections_is_a_warning(federation_lab):
    federation_lab.configure_srv(working_priority=10)
    result = federation_check(federation_lab.transport(), [SERVER])
    report = result["servers"][SERVER]
    assert result["federation_ok"] is True, report["problems"]
    assert report["discovery"]["method"] == "srv"
    assert codes(report, "error") == [] and codes(report, "warning") == ["backup_target_failed"]
    by_host = dict((c["host"], c) for c in report["connections"])
    assert (by_host["hs10." + SERVER]["ok"], by_host["hs10." + SERVER]["backup"]) == (True, False)
    assert by_host["hs10." + SERVER]["server_keys"]["server_name"] == SERVER
    backup = by_host["hs20." + SERVER]
    assert (backup["ok"], backup["backup"], backup["priority"]) == (False, True, 20)
    assert [p["code"] for p in backup["problems"]] == ["connection_failed"]
    warning = next(p for p in report["problems"] if p["code"] == "backup_target_failed")
    assert federation_lab.refusing_ipv4 in warning["message"] and "connection_failed" in warning["message"]
    assert result["msg"] == "%s: federation OK via srv (2 addresses checked), 1 warning: backup_target_failed" % SERVER


def test_a_preferred_srv_target_refusing_connections_fails_though_the_backup_works(federation_lab):
    federation_lab.configure_srv(working_priority=20)
    result = federation_check(federation_lab.transport(), [SERVER])
    report = result["servers"][SERVER]
    assert result["federation_ok"] is False
    assert codes(report, "error") == ["connection_failed"]
    assert "backup_target_failed" not in codes(report)
    by_host = dict((c["host"], c) for c in report["connections"])
    assert by_host["hs20." + SERVER]["ok"] is True and by_host["hs20." + SERVER]["backup"] is True
    assert result["msg"] == "%s: federation FAILS via srv (2 addresses checked): connection_failed" % SERVER


def test_certificate_for_the_wrong_name(federation_lab):
    federation_lab.configure(homeserver_cert=federation_lab.lab.ca.issue(["wrong.synapse.lab.test"]))
    report = federation_check(federation_lab.transport(), [SERVER])["servers"][SERVER]
    assert report["federation_ok"] is False
    assert codes(report, "error") == ["certificate_name_mismatch"]
    for checked in report["connections"]:
        assert checked["certificate"]["dns_names"] == ["wrong.synapse.lab.test"]
        # The server behind the bad certificate is still reported.
        assert checked["version"]["server"]["name"] == "Synapse"


def test_expired_certificate(federation_lab):
    federation_lab.configure(homeserver_cert=federation_lab.lab.ca.issue([HOMESERVER], expired=True))
    report = federation_check(federation_lab.transport(), [SERVER])["servers"][SERVER]
    assert report["federation_ok"] is False
    assert codes(report, "error") == ["certificate_expired"]
    assert all(c["certificate"]["days_remaining"] < 0 for c in report["connections"])


def test_self_signed_certificate_is_untrusted(federation_lab):
    federation_lab.configure(homeserver_cert=federation_lab.lab.ca.issue([HOMESERVER], self_signed=True))
    report = federation_check(federation_lab.transport(), [SERVER])["servers"][SERVER]
    assert report["federation_ok"] is False
    assert codes(report, "error") == ["certificate_untrusted"]


def test_two_addresses_serving_different_well_knowns(federation_lab):
    federation_lab.configure(split_brain=True)
    result = federation_check(federation_lab.transport(), [SERVER])
    report = result["servers"][SERVER]
    assert report["federation_ok"] is False
    assert "inconsistent" in codes(report, "error")
    message = next(p["message"] for p in report["problems"] if p["code"] == "inconsistent")
    assert federation_lab.wk_address in message and federation_lab.wk_other_address in message
    answers = dict((entry["address"], entry["content"]) for entry in report["well_known"]["server"]["addresses"])
    assert answers[federation_lab.wk_other_address] == {"m.server": "old.synapse.lab.test:8448"}


def test_synapse_stopped(federation_lab):
    federation_lab.configure(ipv6=False)
    federation_lab.synapse.stop()
    try:
        report = federation_check(federation_lab.transport(), [SERVER])["servers"][SERVER]
    finally:
        federation_lab.synapse.restart()
    assert report["federation_ok"] is False
    assert codes(report, "error") == ["keys_unavailable", "version_unavailable"]
    # TLS itself is fine: nginx answers, the homeserver behind it does not.
    assert report["connections"][0]["tls"]["verified"] is True
    assert report["connections"][0]["version"]["status"] == 502


@pytest.fixture(scope="module")
def well_known_sites(lab, synapse):
    """Names under wk.lab.test, each serving one kind of good or broken well-known."""
    zone = lab.bind.static_zone(WK_ZONE)
    address = lab.new_ipv4()
    homeserver_address = lab.new_ipv4()
    vhosts = []

    def site(label):
        name = "%s.%s" % (label, WK_ZONE)
        zone.add_a(name, address)
        vhost = lab.nginx.vhost(name, [address])
        vhosts.append(vhost)
        return vhost

    zone.add_a("hs." + WK_ZONE, homeserver_address)
    vhosts.append(lab.nginx.vhost("hs." + WK_ZONE, [homeserver_address]).proxy("/_matrix", synapse.url))
    site("good").well_known_server("hs.wk.lab.test:443", cache_control="max-age=3600").well_known_client(
        "https://hs.wk.lab.test")
    site("html").serve("/.well-known/matrix/server", "<html><body><h1>Welcome to nginx!</h1></body></html>",
                       content_type="text/html")
    site("missing")
    site("badserver").well_known_server("https://hs.wk.lab.test")
    site("text").serve("/.well-known/matrix/server", '{"m.server": "hs.wk.lab.test:443"}', content_type="text/plain")
    site("loop").redirect("/.well-known/matrix/server", "https://loop2.wk.lab.test/.well-known/matrix/server")
    site("loop2").redirect("/.well-known/matrix/server", "https://loop.wk.lab.test/.well-known/matrix/server")
    site("insecure").redirect("/.well-known/matrix/server", "http://good.wk.lab.test/.well-known/matrix/server")
    site("nocache").well_known_server("hs.wk.lab.test:443", cache_control="no-store")
    site("nocors").well_known_client("https://hs.wk.lab.test", cors=False)
    site("nohs").well_known_client("https://missing.wk.lab.test")
    lab.reload()
    yield
    lab.nginx.vhosts = [vhost for vhost in lab.nginx.vhosts if vhost not in vhosts]
    lab.bind.remove_zone(WK_ZONE)
    lab.reload()


WELL_KNOWN_CASES = [
    ("good", ("server", "client"), []),
    ("html", ("server",), ["not_json"]),
    ("missing", ("server",), ["not_found"]),
    ("badserver", ("server",), ["invalid_m_server"]),
    ("text", ("server",), ["wrong_content_type"]),
    ("loop", ("server",), ["redirect_loop"]),
    ("insecure", ("server",), ["insecure_redirect"]),
    ("nocache", ("server",), ["cache_period"]),
    # No CORS header, and nginx answers the preflight of a file with 405.
    ("nocors", ("client",), ["missing_cors", "preflight_failed"]),
    ("nohs", ("client",), ["client_versions_failed"]),
    ("absent", ("server",), ["no_address"]),
]


@pytest.mark.parametrize("label, documents, expected", WELL_KNOWN_CASES, ids=[case[0] for case in WELL_KNOWN_CASES])
def test_well_known_documents_served_by_nginx(lab, well_known_sites, label, documents, expected):
    transport = NetworkTransport(nameservers=lab.nameservers, dns_port=lab.dns_port, ca_path=lab.ca_path, timeout=5)
    report = well_known_info(transport, "%s.%s" % (label, WK_ZONE), documents)
    assert codes(report) == expected, report["problems"]


def test_well_known_without_the_test_ca_is_tls_invalid(lab, well_known_sites):
    transport = NetworkTransport(nameservers=lab.nameservers, dns_port=lab.dns_port, timeout=5)
    report = well_known_info(transport, "good." + WK_ZONE, ("server",))
    assert codes(report) == ["tls_invalid"]


@pytest.fixture(scope="module")
def srv_zone(lab):
    zone = lab.bind.static_zone(SRV_ZONE)
    target = lab.new_ipv4()
    zone.add_a("hs." + SRV_ZONE, target).add_cname("alias." + SRV_ZONE, "hs." + SRV_ZONE)
    zone.add_srv("_matrix-fed._tcp.good." + SRV_ZONE, 10, 5, 8448, "hs." + SRV_ZONE)
    zone.add_srv("_matrix._tcp.legacy." + SRV_ZONE, 10, 5, 8448, "hs." + SRV_ZONE)
    zone.add_srv("_matrix-fed._tcp.cname." + SRV_ZONE, 10, 5, 8448, "alias." + SRV_ZONE)
    zone.add_srv("_matrix-fed._tcp.dot." + SRV_ZONE, 0, 0, 0, ".")
    zone.add_srv("_matrix-fed._tcp.lost." + SRV_ZONE, 10, 5, 8448, "gone." + SRV_ZONE)
    zone.add_srv("_matrix-fed._tcp.differ." + SRV_ZONE, 10, 5, 8448, "hs." + SRV_ZONE)
    zone.add_srv("_matrix._tcp.differ." + SRV_ZONE, 10, 5, 443, "hs." + SRV_ZONE)
    servfail = lab.bind.servfail_zone("broken." + SRV_ZONE)
    lab.bind.reload()
    yield target
    lab.bind.remove_zone(SRV_ZONE)
    lab.bind.remove_zone(servfail)
    lab.bind.reload()


SRV_CASES = [
    ("good", []),
    ("none", []),
    ("legacy", ["legacy_only"]),
    ("cname", ["target_is_cname"]),
    ("dot", ["srv_unavailable"]),
    ("lost", ["target_unresolvable"]),
    ("differ", ["services_differ"]),
    ("x.broken", ["srv_lookup_failed"]),
]


@pytest.mark.parametrize("label, expected", SRV_CASES, ids=[case[0] for case in SRV_CASES])
def test_srv_records_served_by_bind(lab, srv_zone, label, expected):
    transport = NetworkTransport(nameservers=lab.nameservers, dns_port=lab.dns_port, timeout=5)
    report = srv_info(transport, "%s.%s" % (label, SRV_ZONE))
    assert codes(report) == expected, report["problems"]
    if label == "good":
        record = report["services"]["_matrix-fed._tcp"]["records"][0]
        assert (record["target"], record["port"], record["addresses"]) == ("hs." + SRV_ZONE, 8448, [srv_zone])
    if label == "cname":
        assert report["services"]["_matrix-fed._tcp"]["records"][0]["is_cname"] is True


def test_srv_info_through_ansible_playbook_checks_expectations(lab, srv_zone, tmp_path):
    connection = {"nameservers": lab.nameservers, "dns_port": lab.dns_port, "timeout": 5}
    tasks = [
        {"name": "Expect the right target", "homeserver.delegation.srv_info": dict(
            name="good." + SRV_ZONE, expected_target="hs." + SRV_ZONE, expected_port=8448, **connection)},
        {"name": "Expect the wrong port", "homeserver.delegation.srv_info": dict(
            name="good." + SRV_ZONE, expected_port=443, **connection)},
        {"name": "Give an IP literal", "homeserver.delegation.srv_info": dict(name="127.0.0.1", **connection),
         "ignore_errors": True},
    ]
    (right, wrong, literal), completed = run_playbook(tmp_path, tasks)
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert right["problems"] == []
    assert [p["code"] for p in wrong["problems"]] == ["mismatch"]
    assert literal["failed"] is True and "IP literal" in literal["msg"] and "Traceback" not in literal.get("module_stderr", "")


def test_a_server_delegated_to_a_homeserver_of_another_name(federation_lab):
    federation_lab.configure()
    report = federation_check(federation_lab.transport(), [MISDELEGATED])["servers"][MISDELEGATED]
    assert report["federation_ok"] is False
    assert codes(report, "error") == ["keys_server_name_mismatch"]


def test_names_shared_among_processes_are_checked_as_in_one(federation_lab):
    """From 200 names on federation_check forks: each process has its own loop, sockets and
    TLS sessions over the same transport. Real DNS and TLS in the children, same reports."""
    federation_lab.configure()
    names = [SERVER, MISDELEGATED]
    alone = federation_check(federation_lab.transport(), names, processes=1)
    shared = federation_check(federation_lab.transport(), names, processes=2)
    for name in names:
        assert shared["servers"][name]["federation_ok"] is alone["servers"][name]["federation_ok"]
        assert codes(shared["servers"][name], "error") == codes(alone["servers"][name], "error")
        assert [c["address"] for c in shared["servers"][name]["connections"]] == \
            [c["address"] for c in alone["servers"][name]["connections"]]
    assert shared["servers"][SERVER]["federation_ok"] is True
    assert codes(shared["servers"][MISDELEGATED], "error") == ["keys_server_name_mismatch"]
    assert shared["msg"] == alone["msg"]


def test_the_module_with_200_names_shares_them_among_processes_and_returns_every_report(federation_lab, tmp_path):
    """Through ansible-playbook: the forked children of the module's process must not write to
    its standard output (the module's JSON channel) nor outlive it."""
    if usable_cpus() < 2:
        pytest.skip("one usable CPU: the module checks in one process")
    federation_lab.configure()
    absent = ["absent%d.%s" % (index, SERVER) for index in range(198)]
    names = [SERVER] + absent[:99] + [MISDELEGATED] + absent[99:]
    tasks = [{"name": "Check 200 names", "homeserver.delegation.federation_check": dict(
        server_names=names, fail_on_error=False, **federation_lab.connection_vars())}]
    (result,), completed = run_playbook(tmp_path, tasks)
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert result["processes"] == 2
    # Ansible's JSON output sorts the keys of "servers"; the lines of msg keep the order given.
    assert sorted(result["servers"]) == sorted(names) and result["federation_ok"] is False
    assert [line.split(":", 1)[0] for line in result["msg"].splitlines()] == names
    assert result["servers"][SERVER]["federation_ok"] is True
    assert codes(result["servers"][MISDELEGATED], "error") == ["keys_server_name_mismatch"]
    assert {tuple(codes(result["servers"][name], "error")) for name in absent} == {("no_address",)}


def test_verify_playbook_writes_readable_reports(federation_lab, tmp_path):
    federation_lab.configure()
    report_dir = tmp_path / "report"
    extra_vars = dict(federation_lab.connection_vars(), server_names=[SERVER, MISDELEGATED],
                      report_dir=str(report_dir))
    args = ["homeserver.delegation.verify", "-e", json.dumps(extra_vars)]
    results, completed = ansible_playbook(tmp_path, args)
    # The play reports first, then fails because one name does not federate.
    assert completed.returncode == 2, completed.stdout[-3000:]
    assert results[-1]["failed"] is True and MISDELEGATED + ": federation FAILS" in results[-1]["msg"]
    shown = next(result["msg"] for result in results if result and isinstance(result.get("msg"), list))
    assert shown[0] == "Federation works for 1 of 2 server names."
    assert "%s: federation OK" % SERVER in shown

    data = json.loads((report_dir / "federation-report.json").read_text())
    assert data["federation_ok"] is False
    assert data["servers"][SERVER]["federation_ok"] is True
    assert data["servers"][SERVER]["client_well_known"]["base_url"] == "https://%s:8448" % HOMESERVER
    assert set(p["code"] for p in data["servers"][MISDELEGATED]["problems"] if p["severity"] == "error") == {
        "keys_server_name_mismatch"}
    markdown = (report_dir / "federation-report.md").read_text()
    assert markdown.startswith("# Matrix federation report\n")
    assert "| %s | OK | well_known_explicit_port |" % SERVER in markdown
    assert "keys_server_name_mismatch" in markdown
    for name in ("federation-report.json", "federation-report.md"):
        assert (report_dir / name).stat().st_mode & 0o777 == 0o644

    # Unchanged setup, unchanged files: the second run writes nothing.
    again, _completed = ansible_playbook(tmp_path, args)
    writes = [result for result in again if result and str(result.get("dest", "")).startswith(str(report_dir))]
    assert len(writes) == 2 and not any(result["changed"] for result in writes)
    if os.environ.get("VERIFY_REPORT_EXAMPLE"):
        # For docs/verify-report-example.md: what a real run printed and wrote.
        Path(os.environ["VERIFY_REPORT_EXAMPLE"]).write_text(markdown)
        Path(os.environ["VERIFY_REPORT_EXAMPLE"] + ".txt").write_text("\n".join(shown) + "\n")


def test_verify_playbook_refuses_a_missing_server_names(tmp_path):
    results, completed = ansible_playbook(tmp_path, ["homeserver.delegation.verify"])
    assert completed.returncode == 2
    assert "server_names: give at least one Matrix server name" in results[0]["msg"]


BAD_INPUTS = [
    ("homeserver.delegation.federation_check", {"server_names": []}, "server_names: give at least one server name"),
    ("homeserver.delegation.federation_check", {"server_names": ["example.org"], "concurrency": 0},
     "concurrency: 0 is not a positive number"),
    ("homeserver.delegation.federation_check", {"server_names": ["example.org"], "nameservers": ["dns.example"]},
     "nameservers: 'dns.example' is not an IP address"),
    ("homeserver.delegation.well_known_info", {"server_name": "https://example.org"},
     '"https://example.org" is not a valid server name'),
    ("homeserver.delegation.well_known_info", {"server_name": "[::1]"}, "is an IP literal"),
    ("homeserver.delegation.well_known_info", {"server_name": "example.org", "ca_path": "/nonexistent/ca.pem"},
     "ca_path: /nonexistent/ca.pem does not exist"),
    ("homeserver.delegation.srv_info", {"name": "example.org:8448"}, "has an explicit port"),
    ("homeserver.delegation.srv_info", {"name": "example.org", "expected_port": 70000},
     "expected_port: 70000 is not a port number"),
]


def test_bad_input_fails_with_a_message_naming_it(tmp_path):
    tasks = [{"name": "Bad input %d" % index, module: arguments, "ignore_errors": True}
             for index, (module, arguments, _message) in enumerate(BAD_INPUTS)]
    results, completed = run_playbook(tmp_path, tasks)
    assert completed.returncode == 0, completed.stdout[-3000:]
    for (module, arguments, message), result in zip(BAD_INPUTS, results):
        assert result["failed"] is True, (module, arguments)
        assert message in result["msg"], (module, arguments, result["msg"])
        assert "Traceback" not in json.dumps(result), (module, arguments)
