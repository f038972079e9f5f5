# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for _srv_record: no network, the DNS server's answers are dnspython messages."""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.update
import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils._srv_record import (
    SrvRecord,
    SrvRecordError,
    build_srv_records,
    build_update,
    ensure_srv_records,
    make_tsig_key,
    plan_change,
    srv_owner_name,
    validate_request,
)

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
FQDN = "_matrix-fed._tcp.example.com."


def params(**overrides):
    base = dict(
        server="127.0.0.1", port=53, zone="example.com", key_name="ansible-update",
        key_secret=SECRET, key_algorithm="hmac-sha256", server_name="example.com",
        targets=[{"target": "synapse.example.com", "port": 8448, "priority": 10, "weight": 0}],
        service="_matrix-fed._tcp", ttl=3600, timeout=5, state="present",
    )
    base.update(overrides)
    return base


# --- owner name: which server names an SRV record can delegate -----------------------------

@pytest.mark.parametrize("server_name, service, owner", [
    ("example.com", "_matrix-fed._tcp", "_matrix-fed._tcp.example.com."),
    ("Example.COM", "_matrix-fed._tcp", "_matrix-fed._tcp.example.com."),
    ("matrix.example.org", "_matrix._tcp", "_matrix._tcp.matrix.example.org."),
    ("localhost", "_matrix-fed._tcp", "_matrix-fed._tcp.localhost."),
])
def test_owner_name(server_name, service, owner):
    assert srv_owner_name(server_name, service) == owner


@pytest.mark.parametrize("server_name, service, fragment", [
    ("example.com:8448", "_matrix-fed._tcp", "explicit port"),
    ("example.com:443", "_matrix-fed._tcp", "never look up SRV"),
    ("192.0.2.1", "_matrix-fed._tcp", "IP literal"),
    ("[2001:db8::1]", "_matrix-fed._tcp", "IP literal"),
    ("", "_matrix-fed._tcp", "server_name"),
    ("exa mple.com", "_matrix-fed._tcp", "server_name"),
    ("example.com", "_xmpp-server._tcp", "not a Matrix federation service"),
])
def test_owner_name_rejects(server_name, service, fragment):
    with pytest.raises(SrvRecordError, match=fragment):
        srv_owner_name(server_name, service)


# --- targets ---------------------------------------------------------------------------------

@pytest.mark.parametrize("targets, expected", [
    ([{"target": "synapse.example.com", "port": 8448}],
     [SrvRecord(10, 0, 8448, "synapse.example.com.")]),
    ([{"target": "Synapse.Example.COM.", "port": "443", "priority": 0, "weight": 5}],
     [SrvRecord(0, 5, 443, "synapse.example.com.")]),
    ([{"target": "b.example.com", "port": 443, "priority": 20},
      {"target": "a.example.com", "port": 443, "priority": 20},
      {"target": "c.example.com", "port": 8448, "priority": 5}],
     [SrvRecord(5, 0, 8448, "c.example.com."), SrvRecord(20, 0, 443, "a.example.com."),
      SrvRecord(20, 0, 443, "b.example.com.")]),
    ([{"target": "x1.example.com", "port": 65535, "priority": 65535, "weight": 65535}],
     [SrvRecord(65535, 65535, 65535, "x1.example.com.")]),
    ([], []),
])
def test_build_records(targets, expected):
    assert build_srv_records(targets) == expected


@pytest.mark.parametrize("entry, fragment", [
    ({"target": "synapse.example.com", "port": 0}, r"targets\[0\]\.port is 0"),
    ({"target": "synapse.example.com", "port": 65536}, r"targets\[0\]\.port is 65536"),
    ({"target": "synapse.example.com", "port": "https"}, r"targets\[0\]\.port must be an integer"),
    ({"target": "synapse.example.com"}, r"targets\[0\]\.port is missing"),
    ({"target": "synapse.example.com", "port": 443, "priority": 70000}, r"priority is 70000"),
    ({"target": "synapse.example.com", "port": 443, "weight": -1}, r"weight is -1"),
    ({"target": ".", "port": 443}, "service not available"),
    ({"target": "192.0.2.7", "port": 443}, "is an IP address"),
    ({"target": "synapse.example.com:8448", "port": 443}, "put the port in"),
    ({"target": "-bad.example.com", "port": 443}, "not a valid host name"),
    ({"target": "bad_name.example.com", "port": 443}, "not a valid host name"),
    ({"target": "a" * 64 + ".example.com", "port": 443}, "not a valid host name"),
    ({"target": "", "port": 443}, "is empty"),
    ({"target": "synapse.example.com", "port": 443, "prio": 1}, "unknown keys prio"),
])
def test_build_records_rejects(entry, fragment):
    with pytest.raises(SrvRecordError, match=fragment):
        build_srv_records([entry])


def test_build_records_rejects_duplicates():
    entry = {"target": "synapse.example.com", "port": 443}
    with pytest.raises(SrvRecordError, match=r"targets\[1\] repeats"):
        build_srv_records([entry, dict(entry, target="SYNAPSE.example.com.")])


def test_dot_target_accepted_only_for_removal():
    assert build_srv_records([{"target": ".", "port": 1}], allow_unavailable=True) == [SrvRecord(10, 0, 1, ".")]


# --- TSIG key ------------------------------------------------------------------------------

@pytest.mark.parametrize("secret", ["not base64!", "YWJ", "", "   "])
def test_bad_secret_names_key_and_hides_secret(secret):
    with pytest.raises(SrvRecordError) as caught:
        make_tsig_key("ansible-update", secret, "hmac-sha256")
    assert "ansible-update" in str(caught.value)
    assert "not valid base64" in str(caught.value)
    if secret.strip():
        assert secret not in str(caught.value)


@pytest.mark.parametrize("algorithm, wire_name", [
    ("hmac-sha256", "hmac-sha256."),
    ("hmac-sha512", "hmac-sha512."),
    ("hmac-md5", "hmac-md5.sig-alg.reg.int."),
])
def test_key_algorithms(algorithm, wire_name):
    key = make_tsig_key("ansible-update", SECRET, algorithm)
    assert key.algorithm == dns.name.from_text(wire_name)
    assert key.name == dns.name.from_text("ansible-update.")


def test_secret_with_line_breaks_is_accepted():
    key = make_tsig_key("k", SECRET[:20] + "\n" + SECRET[20:], "hmac-sha256")
    assert key.secret == make_tsig_key("k", SECRET, "hmac-sha256").secret


@pytest.mark.parametrize("overrides, fragment", [
    ({"key_name": ""}, "key_name is empty"),
    ({"key_algorithm": "hmac-sha3"}, "key_algorithm 'hmac-sha3' is not supported"),
    ({"server": "ns1.example.com"}, "server 'ns1.example.com' is not an IP address"),
    ({"zone": "example.org"}, r"_matrix-fed\._tcp\.example\.com\. is not inside zone example\.org\.: "
                              r"set zone to the DNS zone that contains it, example\.com\. or one of its parent"),
    ({"zone": "sub.example.com", "server_name": "example.com"}, "not inside zone sub.example.com."),
    ({"targets": []}, "state=present needs at least one"),
    ({"timeout": 0}, "timeout must be a positive"),
    ({"ttl": -5}, "ttl is -5"),
    ({"port": 0}, "port is 0"),
])
def test_validate_request_rejects(overrides, fragment):
    with pytest.raises(SrvRecordError, match=fragment):
        validate_request(params(**overrides))


def test_validate_request_accepts_a_sub_zone_and_warns_for_legacy_service():
    request = validate_request(params(zone="_tcp.example.com", service="_matrix._tcp"))
    assert request.fqdn == dns.name.from_text("_matrix._tcp.example.com.")
    assert any("deprecated" in warning for warning in request.warnings)


@pytest.mark.parametrize("server, expected", [("::1", "::1"), ("2001:DB8::53", "2001:db8::53"), ("192.0.2.53", "192.0.2.53")])
def test_server_may_be_ipv4_or_ipv6(server, expected):
    request = validate_request(params(server=server))
    assert request.server == expected
    assert request.where.startswith("DNS server %s port 53" % expected)


def test_absent_without_targets_is_valid():
    assert validate_request(params(state="absent", targets=[])).records == []


# --- planning ------------------------------------------------------------------------------

A = SrvRecord(10, 0, 8448, "a.example.com.")
B = SrvRecord(10, 0, 8448, "b.example.com.")
C = SrvRecord(20, 0, 443, "c.example.com.")


def _request(state="present", records=(), ttl=3600):
    request = validate_request(params(state=state, targets=[{"target": "x.example.com", "port": 1}], ttl=ttl))
    request.records = list(records)
    return request


@pytest.mark.parametrize("current_ttl, current, state, wanted, ttl, to_delete, to_add, replace_all, after", [
    # create
    (None, [], "present", [A], 3600, [], [A], False, [A]),
    # already right: nothing to do
    (3600, [A, B], "present", [B, A], 3600, [], [], False, [A, B]),
    # change a target: only the difference
    (3600, [A, B], "present", [A, C], 3600, [B], [C], False, [A, C]),
    # TTL change: replace the whole set
    (300, [A], "present", [A], 3600, [A], [A], True, [A]),
    # remove everything
    (3600, [A, B], "absent", [], 3600, [A, B], [], False, []),
    # remove one record
    (3600, [A, B], "absent", [B, C], 3600, [B], [], False, [A]),
    # nothing there to remove
    (None, [], "absent", [], 3600, [], [], False, []),
])
def test_plan(current_ttl, current, state, wanted, ttl, to_delete, to_add, replace_all, after):
    plan = plan_change(current_ttl, current, _request(state, wanted, ttl))
    assert (plan.to_delete, plan.to_add, plan.replace_all, plan.after) == (to_delete, to_add, replace_all, after)
    assert plan.changed == bool(to_delete or to_add)


# --- the update message ---------------------------------------------------------------------

def _sections(update):
    """Each prerequisite RR (sorted) and each update RR (in order) as it goes on the wire:
    (class, type, ttl, rdata text); class ANY/NONE mark RFC 2136 deletions and prerequisites."""
    def rows(section):
        result = []
        for rrset in section:
            rdclass = dns.rdataclass.to_text(rrset.deleting if rrset.deleting is not None else rrset.rdclass)
            rdtype = dns.rdatatype.to_text(rrset.rdtype)
            result.extend([(rdclass, rdtype, rrset.ttl, rd.to_text()) for rd in rrset] or [(rdclass, rdtype, rrset.ttl, None)])
        return result
    return sorted(rows(update.prerequisite)), rows(update.update)


def test_update_for_a_new_name_requires_no_srv_and_adds():
    request = _request("present", [A])
    update = build_update(request, plan_change(None, [], request))
    prerequisite, changes = _sections(update)
    assert prerequisite == [("NONE", "SRV", 0, None)]  # RFC 2136 2.4.3: RRset does not exist
    assert changes == [("IN", "SRV", 3600, "10 0 8448 a.example.com.")]
    assert update.keyname == dns.name.from_text("ansible-update.")
    assert update.zone[0].name == dns.name.from_text("example.com.")


def test_update_sends_only_the_difference_guarded_by_what_was_read():
    request = _request("present", [A, C])
    update = build_update(request, plan_change(3600, [A, B], request))
    prerequisite, changes = _sections(update)
    # RFC 2136 2.4.2: RRset exists (value dependent), TTL 0
    assert prerequisite == [("IN", "SRV", 0, "10 0 8448 a.example.com."), ("IN", "SRV", 0, "10 0 8448 b.example.com.")]
    # RFC 2136 2.5.4: delete an RR from an RRset (class NONE), then add
    assert changes == [("NONE", "SRV", 0, "10 0 8448 b.example.com."), ("IN", "SRV", 3600, "20 0 443 c.example.com.")]


def test_ttl_change_deletes_the_rrset_then_adds_it_in_one_update():
    request = _request("present", [A], ttl=60)
    update = build_update(request, plan_change(3600, [A], request))
    changes = _sections(update)[1]
    # RFC 2136 2.5.2: delete an RRset (class ANY), then add it back with the new TTL
    assert changes == [("ANY", "SRV", 0, None), ("IN", "SRV", 60, "10 0 8448 a.example.com.")]


# --- the whole exchange, with a scripted server -----------------------------------------------

def answer(ttl=None, *records, aa=True, rcode=dns.rcode.NOERROR, cname=None):
    """A response to the query: the SRV RRset (none when no records), flags and rcode."""
    def respond(query):
        response = dns.message.make_response(query)
        response.set_rcode(rcode)
        if aa:
            response.flags |= dns.flags.AA
        else:
            response.flags &= ~dns.flags.AA
        if cname:
            response.answer.append(dns.rrset.from_text(FQDN, 300, "IN", "CNAME", cname))
        if records:
            response.answer.append(dns.rrset.from_text_list(FQDN, ttl, "IN", "SRV", [r.to_text() for r in records]))
        return response
    return respond


def update_answer(rcode=dns.rcode.NOERROR):
    def respond(update):
        assert isinstance(update, dns.update.UpdateMessage)
        response = dns.message.make_response(update)
        response.set_rcode(rcode)
        return response
    return respond


def fail_with(exc):
    def respond(message):
        raise exc
    return respond


class ScriptedServer:
    """A transport that answers each message with the next scripted responder, and keeps them."""

    def __init__(self, *script):
        self.script = list(script)
        self.sent = []

    def exchange(self, message):
        self.sent.append(message)
        assert message.keyname == dns.name.from_text("ansible-update."), "every message is TSIG-signed"
        return self.script.pop(0)(message)

    @property
    def updates(self):
        return [m for m in self.sent if isinstance(m, dns.update.UpdateMessage)]


A_TARGET = [{"target": "a.example.com", "port": 8448}]
A_LINE = FQDN + " 3600 IN SRV 10 0 8448 a.example.com."


def test_create_sends_one_update_and_confirms():
    server = ScriptedServer(answer(), update_answer(), answer(3600, A))
    result = ensure_srv_records(params(targets=A_TARGET), transport=server)
    assert result["changed"] is True
    assert len(server.updates) == 1 and len(server.sent) == 3
    assert result["before"] == [] and result["after"] == [A_LINE]
    assert result["records"] == [{"priority": 10, "weight": 0, "port": 8448, "target": "a.example.com."}]
    assert result["diff"]["after"] == A_LINE + "\n"
    assert result["fqdn"] == FQDN


def test_query_asks_the_server_itself_without_recursion():
    server = ScriptedServer(answer(3600, A))
    ensure_srv_records(params(targets=A_TARGET), transport=server)
    query = server.sent[0]
    assert not query.flags & dns.flags.RD
    assert query.question[0].rdtype == dns.rdatatype.SRV
    assert query.question[0].name == dns.name.from_text(FQDN)


def test_no_change_sends_no_update():
    server = ScriptedServer(answer(3600, A))
    result = ensure_srv_records(params(targets=A_TARGET), transport=server)
    assert result["changed"] is False and server.updates == []
    assert result["before"] == result["after"] == [A_LINE]


def test_check_mode_reports_the_change_and_sends_nothing():
    server = ScriptedServer(answer(3600, B))
    result = ensure_srv_records(params(targets=A_TARGET), transport=server, check_mode=True)
    assert result["changed"] is True and server.updates == []
    assert result["after"] == [A_LINE]
    assert result["before"] == [FQDN + " 3600 IN SRV 10 0 8448 b.example.com."]


def test_remove_everything():
    server = ScriptedServer(answer(3600, A, B), update_answer(), answer())
    result = ensure_srv_records(params(state="absent", targets=[]), transport=server)
    assert result["changed"] is True and result["records"] == [] and result["ttl"] is None
    changes = _sections(server.updates[0])[1]
    assert changes == [("ANY", "SRV", 0, None)]


def test_server_that_does_not_apply_the_update_is_reported():
    server = ScriptedServer(answer(), update_answer(), answer())
    with pytest.raises(SrvRecordError, match="accepted the update but now serves no records"):
        ensure_srv_records(params(targets=A_TARGET), transport=server)


WHERE = "DNS server 127.0.0.1 port 53, zone example.com."


@pytest.mark.parametrize("script, fragments", [
    # the update
    ([answer(), update_answer(dns.rcode.REFUSED)], ["refused the update", "'ansible-update'", "update-policy"]),
    ([answer(), update_answer(dns.rcode.NOTAUTH)], ["not authoritative for zone example.com.", "NOTAUTH"]),
    ([answer(), update_answer(dns.rcode.SERVFAIL)], ["SERVFAIL", "journal"]),
    ([answer(), update_answer(dns.rcode.NOTIMP)], ["does not implement dynamic updates"]),
    ([answer(), update_answer(dns.rcode.YXRRSET)], ["appeared", "nothing was changed, run again"]),
    ([answer(3600, B), update_answer(dns.rcode.NXRRSET)], ["changed after they were read", "run again"]),
    # the query
    ([answer(rcode=dns.rcode.REFUSED)], ["REFUSED", "does not serve this zone"]),
    ([answer(rcode=dns.rcode.SERVFAIL)], ["SERVFAIL", "could not load the zone"]),
    ([answer(3600, A, aa=False)], ["not authoritative", "not a resolver"]),
    ([answer(cname="elsewhere.example.net.")], ["is a CNAME (to elsewhere.example.net.)"]),
    # the network and TSIG, as dnspython reports them
    ([fail_with(dns.tsig.PeerBadKey())], ["does not know TSIG key 'ansible-update' (hmac-sha256)", "BADKEY"]),
    ([fail_with(dns.tsig.PeerBadSignature())], ["BADSIG", "key_secret is not the secret"]),
    ([fail_with(dns.tsig.PeerBadTime())], ["BADTIME", "clocks"]),
    ([answer(), fail_with(dns.tsig.PeerBadSignature())], ["update of " + FQDN, "BADSIG"]),
    ([fail_with(dns.message.UnknownTSIGKey("key 'other.' unknown"))], ["signed with a key or secret other than"]),
    ([fail_with(dns.exception.Timeout())], ["no answer within 5 seconds"]),
    ([fail_with(ConnectionRefusedError(111, "Connection refused"))], ["connection refused", "check server and port"]),
    ([fail_with(OSError(101, "Network is unreachable"))], ["cannot be reached: Network is unreachable"]),
    ([fail_with(EOFError())], ["closed the connection"]),
])
def test_failures_name_server_zone_and_fix(script, fragments):
    server = ScriptedServer(*script)
    with pytest.raises(SrvRecordError) as caught:
        ensure_srv_records(params(targets=A_TARGET), transport=server)
    message = str(caught.value)
    assert message.startswith(WHERE)
    for fragment in fragments:
        assert fragment in message
    assert SECRET not in message
