# -*- coding: utf-8 -*-
# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause
"""Matrix SRV delegation records: validation, zone-file lines and RFC 2136 updates.

This module is internal to the homeserver.delegation collection. Its API may change at any
time without notice; do not import it from outside the collection.

One place builds the records: the srv_record module (RFC 2136 with TSIG) and the
srv_zone_lines filter (zone-file lines) both go through build_srv_records() and
srv_owner_name(), so what a user renders by filter is exactly what the module would publish.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass, field

from ansible_collections.homeserver.delegation.plugins.module_utils._dependencies import dns
from ansible_collections.homeserver.delegation.plugins.module_utils._server_name import (
    ServerNameError,
    parse_server_name,
)
# The service names and the record type are those of every plugin.
from ansible_collections.homeserver.delegation.plugins.module_utils._srv import (
    FEDERATION_SERVICE,
    LEGACY_SERVICE,
    SERVICES,
    SrvRecord,
)


DEFAULT_TTL = 3600
DEFAULT_PRIORITY = 10
# RFC 2782: "Domain administrators SHOULD use Weight 0 when there isn't any server selection
# to do". A zero weight also sorts after non-zero weights of the same priority (Synapse,
# RFC 2782), so a default of 0 never silently outranks a weight the user did choose.
DEFAULT_WEIGHT = 0
DEFAULT_TIMEOUT = 10
MAX_TTL = 2147483647  # RFC 2181, section 8

# Ansible choice -> dnspython algorithm name. The order is the order of the documentation.
KEY_ALGORITHMS = {
    "hmac-sha256": "hmac-sha256.",
    "hmac-sha512": "hmac-sha512.",
    "hmac-sha384": "hmac-sha384.",
    "hmac-sha224": "hmac-sha224.",
    "hmac-sha1": "hmac-sha1.",
    "hmac-md5": "hmac-md5.sig-alg.reg.int.",
}

# RFC 1123 host name label: letters, digits, inner hyphens, at most 63 characters.
_HOST_LABEL = re.compile(r"\A(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")


class SrvRecordError(Exception):
    """A problem the user can fix: bad input, or a DNS server that did not do what was asked."""


def srv_argument_spec() -> dict:
    """The srv_record module's argument spec; it matches the module's DOCUMENTATION."""
    return dict(
        server=dict(type="str", required=True),
        port=dict(type="int", default=53),
        zone=dict(type="str", required=True),
        key_name=dict(type="str", required=True),
        key_secret=dict(type="str", required=True, no_log=True),
        key_algorithm=dict(type="str", default="hmac-sha256", choices=list(KEY_ALGORITHMS)),
        server_name=dict(type="str", required=True),
        targets=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                target=dict(type="str", required=True),
                port=dict(type="int", required=True),
                priority=dict(type="int", default=DEFAULT_PRIORITY),
                weight=dict(type="int", default=DEFAULT_WEIGHT),
            ),
        ),
        service=dict(type="str", default=FEDERATION_SERVICE, choices=list(SERVICES)),
        ttl=dict(type="int", default=DEFAULT_TTL),
        timeout=dict(type="float", default=DEFAULT_TIMEOUT),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )


def srv_owner_name(server_name: str, service: str = FEDERATION_SERVICE) -> str:
    """Return the absolute SRV owner name for a Matrix server name, e.g.
    ``_matrix-fed._tcp.example.com.`` for ``example.com``.

    Raises SrvRecordError when the server name is invalid, or when Matrix servers would never
    look up an SRV record for it (a server name with a port, or an IP literal).
    """
    if service not in SERVICES:
        raise SrvRecordError(
            "service %r is not a Matrix federation service: use %s (or the deprecated %s)"
            % (service, FEDERATION_SERVICE, LEGACY_SERVICE)
        )
    try:
        parsed = parse_server_name(server_name)
    except ServerNameError as exc:
        raise SrvRecordError("server_name: %s" % exc) from exc
    if parsed.is_ip_literal:
        raise SrvRecordError(
            "server_name %r is an IP literal: Matrix servers connect to an IP literal directly "
            "(port 8448 unless given) and never look up SRV records for it; an SRV record "
            "cannot delegate it" % server_name
        )
    if parsed.port is not None:
        raise SrvRecordError(
            "server_name %r has an explicit port: Matrix servers connect to %s port %d "
            "directly and never look up SRV records for a server name with a port. Use the "
            "server name without the port, or no SRV record" % (server_name, parsed.host, parsed.port)
        )
    return "%s.%s." % (service, parsed.lookup_name)


def _normalise_target(target, index: int, allow_unavailable: bool) -> str:
    """Validate an SRV target host name and return it absolute and lower-case."""
    where = "targets[%d].target" % index
    if not isinstance(target, str) or not target.strip():
        raise SrvRecordError("%s is empty: give the host name of the Matrix server" % where)
    target = target.strip()
    if target == ".":
        if allow_unavailable:
            return "."
        raise SrvRecordError(
            "%s is '.', which means \"service not available\" (RFC 2782): every Matrix server "
            "that finds it stops and fails to federate. Give the host name of the server, or "
            "use state=absent to remove the records" % where
        )
    if ":" in target or target.startswith("["):
        raise SrvRecordError(
            "%s %r contains ':': an SRV target is a bare host name; put the port in "
            "targets[%d].port" % (where, target, index)
        )
    try:
        ipaddress.ip_address(target)
    except ValueError:
        pass
    else:
        raise SrvRecordError(
            "%s %r is an IP address: an SRV target must be a host name that has A/AAAA "
            "records (RFC 2782)" % (where, target)
        )
    host = target[:-1] if target.endswith(".") else target
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise SrvRecordError(
            "%s %r is not a valid host name: labels of letters, digits and inner hyphens, "
            "1-63 characters each, at most 253 in all" % (where, target)
        )
    return host.lower() + "."


def _checked_int(value, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value), 10)
        except ValueError:
            raise SrvRecordError("%s must be an integer, got %r" % (where, value)) from None
    if not low <= value <= high:
        raise SrvRecordError("%s is %d: it must be between %d and %d" % (where, value, low, high))
    return value


def build_srv_records(targets, allow_unavailable: bool = False) -> list:
    """Validate a list of ``{target, port, priority, weight}`` dicts; return SrvRecords, sorted.

    ``priority`` defaults to 10 and ``weight`` to 0. A target of ``.`` is only accepted with
    ``allow_unavailable`` (removing such a record). Raises SrvRecordError naming the entry.
    """
    if targets is None:
        return []
    if not isinstance(targets, (list, tuple)):
        raise SrvRecordError("targets must be a list of {target, port, priority, weight}")
    records = []
    for index, entry in enumerate(targets):
        if not isinstance(entry, dict):
            raise SrvRecordError("targets[%d] must be a dict with target and port, got %r" % (index, entry))
        unknown = sorted(set(entry) - {"target", "port", "priority", "weight"})
        if unknown:
            raise SrvRecordError(
                "targets[%d] has unknown keys %s: use target, port, priority, weight" % (index, ", ".join(unknown))
            )
        if entry.get("port") is None:
            raise SrvRecordError("targets[%d].port is missing: give the federation port, e.g. 8448 or 443" % index)
        priority = entry.get("priority")
        weight = entry.get("weight")
        record = SrvRecord(
            priority=_checked_int(DEFAULT_PRIORITY if priority is None else priority,
                                  "targets[%d].priority" % index, 0, 65535),
            weight=_checked_int(DEFAULT_WEIGHT if weight is None else weight,
                                "targets[%d].weight" % index, 0, 65535),
            port=_checked_int(entry["port"], "targets[%d].port" % index, 1, 65535),
            target=_normalise_target(entry.get("target"), index, allow_unavailable),
        )
        if record in records:
            raise SrvRecordError("targets[%d] repeats the record '%s'" % (index, record.to_text()))
        records.append(record)
    return sorted(records)


def check_ttl(ttl) -> int:
    """Validate a TTL (0..2147483647 seconds, RFC 2181) and return it as an int."""
    return _checked_int(ttl, "ttl", 0, MAX_TTL)


def render_zone_lines(owner: str, ttl: int, records) -> list:
    """Render records as zone-file lines: ``<owner> <ttl> IN SRV <prio> <weight> <port> <target>``."""
    return ["%s %d IN SRV %s" % (owner, ttl, record.to_text()) for record in sorted(records)]


def srv_zone_lines(targets, server_name: str, service: str = FEDERATION_SERVICE, ttl=DEFAULT_TTL) -> list:
    """Zone-file lines for a server name's SRV delegation (the srv_zone_lines filter)."""
    owner = srv_owner_name(server_name, service)
    records = build_srv_records(targets)
    if not records:
        raise SrvRecordError("targets is empty: give at least one {target, port}")
    return render_zone_lines(owner, check_ttl(ttl), records)


def make_tsig_key(key_name: str, key_secret: str, key_algorithm: str):
    """Build a dnspython TSIG key, checking the name, the base64 secret and the algorithm.

    The secret never appears in an error message.
    """
    if key_algorithm not in KEY_ALGORITHMS:
        raise SrvRecordError(
            "key_algorithm %r is not supported: use one of %s" % (key_algorithm, ", ".join(KEY_ALGORITHMS))
        )
    if not isinstance(key_name, str) or not key_name.strip(".").strip():
        raise SrvRecordError("key_name is empty: give the name of the TSIG key the DNS server knows")
    try:
        name = dns.name.from_text(key_name)
    except dns.exception.DNSException as exc:
        raise SrvRecordError("key_name %r is not a valid DNS name: %s" % (key_name, exc)) from None
    secret_text = "".join((key_secret or "").split())
    try:
        secret = base64.b64decode(secret_text, validate=True)
    except (binascii.Error, ValueError):
        secret = b""
    if not secret:
        raise SrvRecordError(
            "key_secret for TSIG key %r is not valid base64: copy the 'secret' value of the key "
            "exactly as the DNS server has it (BIND: the key file made by tsig-keygen)" % key_name
        )
    return dns.tsig.Key(name, secret, KEY_ALGORITHMS[key_algorithm])


class DnsTransport:
    """Sends one DNS message to one server over TCP and returns the response.

    TCP because an authoritative server must speak it (RFC 7766), answers are never
    truncated, and a server that is down is reported at once ("connection refused") instead
    of after a UDP timeout. TSIG signatures on responses are verified by dnspython here.

    Not the discovery engine's DNS client (``_transport.NetworkTransport``), on purpose: that
    one *resolves* names through the configured recursive resolvers (UDP, retries, several
    name servers, CNAMEs followed) and returns parsed records with an rcode, never raising.
    This one *exchanges* a message built and TSIG-signed by the caller (the SOA/SRV query of
    the zone and the RFC 2136 UPDATE) with the one primary server named by the user, and
    returns the whole response, whose TSIG is verified with the request's key and whose
    rcode decides the update's outcome; failures raise, so that :func:`_exchange` reports
    them by kind (refused, bad key, bad time...). Going through the resolver would lose the
    signature on the request and the check of the response; adding an "exchange with this
    server" mode to the resolver would give it a second concern. Both share dnspython and
    the SRV types of ``_srv``, which is what "one implementation per concern" asks.
    """

    def __init__(self, server: str, port: int, timeout: float):
        self.server = server
        self.port = port
        self.timeout = timeout

    def exchange(self, message):
        """Send ``message`` and return the parsed, TSIG-verified response."""
        return dns.query.tcp(message, self.server, timeout=self.timeout, port=self.port)


@dataclass
class SrvRequest:
    """What the user asked for, validated (see validate_request)."""

    server: str
    port: int
    zone: object  # dns.name.Name
    fqdn: object  # dns.name.Name
    key: object  # dns.tsig.Key
    records: list
    ttl: int
    state: str
    service: str
    timeout: float
    warnings: list = field(default_factory=list)

    @property
    def where(self) -> str:
        """How error messages name the server and zone."""
        return "DNS server %s port %d, zone %s" % (self.server, self.port, self.zone.to_text())


@dataclass
class SrvPlan:
    """The SRV RRset before and after, and the update that gets from one to the other."""

    before_ttl: object  # int or None when there are no records
    before: list
    after_ttl: object
    after: list
    to_delete: list
    to_add: list
    replace_all: bool

    @property
    def changed(self) -> bool:
        """Whether an update has to be sent."""
        return bool(self.to_delete or self.to_add or self.replace_all)


def validate_request(params: dict) -> SrvRequest:
    """Check the module parameters; return an SrvRequest or raise SrvRecordError.

    Nothing is sent: a name outside the zone, a bad secret or a bad target is reported before
    any packet leaves.
    """
    try:
        server = str(ipaddress.ip_address(params["server"]))
    except ValueError:
        raise SrvRecordError(
            "server %r is not an IP address: give the IP address of the zone's primary DNS "
            "server (the one that accepts dynamic updates)" % params["server"]
        ) from None
    port = _checked_int(params.get("port", 53), "port", 1, 65535)
    timeout = params.get("timeout", DEFAULT_TIMEOUT)
    if not timeout or timeout <= 0:
        raise SrvRecordError("timeout must be a positive number of seconds, got %r" % timeout)
    try:
        zone = dns.name.from_text(params["zone"])
    except dns.exception.DNSException as exc:
        raise SrvRecordError("zone %r is not a valid DNS name: %s" % (params["zone"], exc)) from None
    service = params.get("service", FEDERATION_SERVICE)
    fqdn = dns.name.from_text(srv_owner_name(params["server_name"], service))
    if not fqdn.is_subdomain(zone):
        raise SrvRecordError(
            "the record %s is not inside zone %s: set zone to the DNS zone that contains it, "
            "%s or one of its parent domains"
            % (fqdn.to_text(), zone.to_text(), fqdn.parent().parent().to_text())
        )
    state = params.get("state", "present")
    records = build_srv_records(params.get("targets") or [], allow_unavailable=(state == "absent"))
    if state == "present" and not records:
        raise SrvRecordError(
            "targets is empty: state=present needs at least one {target, port}; to remove the "
            "records use state=absent"
        )
    key = make_tsig_key(params["key_name"], params["key_secret"], params.get("key_algorithm", "hmac-sha256"))
    warnings = []
    if service == LEGACY_SERVICE:
        warnings.append(
            "%s is deprecated: Matrix servers look it up only when %s.%s has no records. "
            "Publish %s records instead" % (LEGACY_SERVICE, FEDERATION_SERVICE, fqdn.parent().parent().to_text(),
                                            FEDERATION_SERVICE)
        )
    return SrvRequest(
        server=server, port=port, zone=zone, fqdn=fqdn, key=key, records=records,
        ttl=check_ttl(params.get("ttl", DEFAULT_TTL)), state=state, service=service, timeout=timeout,
        warnings=warnings,
    )


def plan_change(current_ttl, current: list, request: SrvRequest) -> SrvPlan:
    """Compare the records the server has with the records wanted, as sets.

    present: the RRset becomes exactly ``request.records`` with ``request.ttl``. A TTL change
    replaces the whole RRset (one RRset has one TTL, RFC 2181), in the same update.
    absent: without targets every SRV record at the name goes; with targets only those do.
    """
    current_set = set(current)
    if request.state == "present":
        wanted = set(request.records)
        ttl_differs = bool(current_set) and current_ttl != request.ttl
        if ttl_differs:
            return SrvPlan(current_ttl, sorted(current_set), request.ttl, sorted(wanted),
                           sorted(current_set), sorted(wanted), True)
        to_delete = sorted(current_set - wanted)
        to_add = sorted(wanted - current_set)
        return SrvPlan(current_ttl, sorted(current_set), request.ttl, sorted(wanted),
                       to_delete, to_add, False)
    unwanted = current_set & set(request.records) if request.records else current_set
    after = sorted(current_set - unwanted)
    return SrvPlan(current_ttl, sorted(current_set), current_ttl if after else None, after,
                   sorted(unwanted), [], False)


def _rdata(record: SrvRecord):
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SRV, record.to_text())


def build_update(request: SrvRequest, plan: SrvPlan):
    """Build the single RFC 2136 update message for a plan.

    Its prerequisite is the RRset as it was read (or its absence), so a change made by
    someone else between our query and our update makes the server refuse the whole update
    (NXRRSET/YXRRSET) instead of our update silently overwriting it.
    """
    update = dns.update.UpdateMessage(request.zone)
    if plan.before:
        update.present(request.fqdn, *[_rdata(record) for record in plan.before])
    else:
        update.absent(request.fqdn, dns.rdatatype.SRV)
    if plan.replace_all or (plan.before and not plan.after):
        update.delete(request.fqdn, dns.rdatatype.SRV)
    else:
        for record in plan.to_delete:
            update.delete(request.fqdn, _rdata(record))
    for record in plan.to_add:
        update.add(request.fqdn, plan.after_ttl, _rdata(record))
    update.use_tsig(request.key)
    return update


def _network_failure(request: SrvRequest, action: str, exc: Exception) -> SrvRecordError:
    """Translate a dnspython or socket exception into an error the user can act on."""
    key = "TSIG key %r (%s)" % (request.key.name.to_text(omit_final_dot=True),
                                request.key.algorithm.to_text(omit_final_dot=True))
    if isinstance(exc, dns.tsig.PeerBadKey):
        why = ("the server does not know %s (BADKEY): key_name and key_algorithm must match a "
               "key defined on the server" % key)
    elif isinstance(exc, dns.tsig.PeerBadSignature):
        why = ("the server rejected the signature made with %s (BADSIG): key_secret is not the "
               "secret the server has for this key" % key)
    elif isinstance(exc, dns.tsig.PeerBadTime):
        why = ("the server rejected the time of the signature (BADTIME): the clocks of this "
               "machine and the DNS server differ by more than 5 minutes")
    elif isinstance(exc, dns.tsig.PeerError):
        why = "the server reported a TSIG error for %s: %s" % (key, exc)
    elif isinstance(exc, (dns.message.UnknownTSIGKey, dns.tsig.BadKey, dns.tsig.BadSignature,
                          dns.tsig.BadAlgorithm)):
        why = ("the answer is signed with a key or secret other than %s (%s): check key_name, "
               "key_secret and key_algorithm" % (key, exc.__class__.__name__))
    elif isinstance(exc, dns.exception.Timeout):
        why = ("no answer within %g seconds: is a DNS server running there and reachable over "
               "TCP? (raise timeout for a slow server)" % request.timeout)
    elif isinstance(exc, ConnectionRefusedError):
        why = "connection refused: no DNS server listens there over TCP (check server and port)"
    elif isinstance(exc, (EOFError, ConnectionResetError)):
        why = "the server closed the connection without answering"
    elif isinstance(exc, OSError):
        why = "the server cannot be reached: %s" % (exc.strerror or exc)
    else:
        why = "%s: %s" % (exc.__class__.__name__, exc)
    return SrvRecordError("%s: %s failed: %s" % (request.where, action, why))


def _exchange(transport, request: SrvRequest, message, action: str):
    try:
        return transport.exchange(message)
    except (dns.exception.DNSException, OSError, EOFError) as exc:
        raise _network_failure(request, action, exc) from exc


def query_srv(transport, request: SrvRequest):
    """Ask the authoritative server for the SRV RRset; return ``(ttl or None, [SrvRecord])``.

    The query is TSIG-signed, so a wrong key shows up here, before any update and in check
    mode too. The answer must be authoritative: a resolver's cached copy proves nothing.
    """
    query = dns.message.make_query(request.fqdn, dns.rdatatype.SRV)
    query.flags &= ~dns.flags.RD  # ask the zone's server about its own data, no recursion
    query.use_tsig(request.key)
    action = "the query for %s SRV" % request.fqdn.to_text()
    response = _exchange(transport, request, query, action)
    rcode = response.rcode()
    if rcode == dns.rcode.REFUSED:
        raise SrvRecordError(
            "%s: %s was REFUSED: the server does not serve this zone, or does not answer this "
            "address (check server, port and zone)" % (request.where, action)
        )
    if rcode == dns.rcode.SERVFAIL:
        raise SrvRecordError(
            "%s: %s failed with SERVFAIL: the server could not load the zone; see its log"
            % (request.where, action)
        )
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        raise SrvRecordError("%s: %s failed with %s" % (request.where, action, dns.rcode.to_text(rcode)))
    if not response.flags & dns.flags.AA:
        raise SrvRecordError(
            "%s: the answer for %s is not authoritative: server must be the zone's primary "
            "server, not a resolver, and the name must not be in a sub-zone delegated elsewhere"
            % (request.where, request.fqdn.to_text())
        )
    for rrset in response.answer:
        if rrset.name == request.fqdn and rrset.rdtype == dns.rdatatype.CNAME:
            raise SrvRecordError(
                "%s: %s is a CNAME (to %s); an SRV record cannot exist beside it. Remove the "
                "CNAME first" % (request.where, request.fqdn.to_text(), rrset[0].target.to_text())
            )
    for rrset in response.answer:
        if rrset.name == request.fqdn and rrset.rdtype == dns.rdatatype.SRV:
            records = {SrvRecord(rd.priority, rd.weight, rd.port, rd.target.to_text().lower()) for rd in rrset}
            return rrset.ttl, sorted(records)
    return None, []


_UPDATE_RCODE_HELP = {
    "REFUSED": ("the server refused the update: TSIG key {key} may not change {fqdn} "
                "(BIND: allow-update / update-policy of the zone), or the zone does not accept "
                "dynamic updates"),
    "NOTAUTH": ("the server is not authoritative for zone {zone} or does not accept TSIG key {key} "
                "for it (NOTAUTH): zone must name a zone this server is primary for"),
    "NOTZONE": "{fqdn} is not inside zone {zone} (NOTZONE): zone must contain the record",
    "SERVFAIL": ("the server could not apply the update (SERVFAIL): see its log (BIND needs "
                 "write access to the zone's journal file; a secondary cannot take updates)"),
    "NOTIMP": "the server does not implement dynamic updates (NOTIMP)",
    "FORMERR": "the server could not parse the update (FORMERR)",
    "NXRRSET": ("the SRV records at {fqdn} changed after they were read (NXRRSET): someone else "
                "updated them at the same time; nothing was changed, run again"),
    "YXRRSET": ("SRV records appeared at {fqdn} after they were read (YXRRSET): someone else "
                "updated them at the same time; nothing was changed, run again"),
}


def send_update(transport, request: SrvRequest, plan: SrvPlan) -> None:
    """Send the plan's update as one signed RFC 2136 message; raise SrvRecordError unless NOERROR."""
    update = build_update(request, plan)
    action = "the update of %s SRV" % request.fqdn.to_text()
    response = _exchange(transport, request, update, action)
    rcode = response.rcode()
    if rcode == dns.rcode.NOERROR:
        return
    name = dns.rcode.to_text(rcode)
    text = _UPDATE_RCODE_HELP.get(name, "the server answered %s" % name)
    raise SrvRecordError("%s: %s" % (request.where, text.format(
        key=repr(request.key.name.to_text(omit_final_dot=True)),
        fqdn=request.fqdn.to_text(), zone=request.zone.to_text())))


def ensure_srv_records(params: dict, transport=None, check_mode: bool = False) -> dict:
    """Make the server's SRV records for a Matrix server name match ``params``.

    Queries the authoritative server, plans the difference, and (unless ``check_mode``)
    sends it as one update, then reads the records back to confirm. ``transport`` defaults
    to DnsTransport for ``params['server']``. Returns the module's result: ``changed``,
    ``fqdn``, ``ttl``, ``records``, ``before``, ``after``, ``diff`` and ``warnings``.
    """
    request = validate_request(params)
    if transport is None:
        transport = DnsTransport(request.server, request.port, request.timeout)
    current_ttl, current = query_srv(transport, request)
    plan = plan_change(current_ttl, current, request)
    if plan.changed and not check_mode:
        send_update(transport, request, plan)
        confirmed_ttl, confirmed = query_srv(transport, request)
        if set(confirmed) != set(plan.after) or (plan.after and confirmed_ttl != plan.after_ttl):
            raise SrvRecordError(
                "%s: the server accepted the update but now serves %s instead of %s"
                % (request.where,
                   render_zone_lines(request.fqdn.to_text(), confirmed_ttl or 0, confirmed) or "no records",
                   render_zone_lines(request.fqdn.to_text(), plan.after_ttl or 0, plan.after) or "no records")
            )
    owner = request.fqdn.to_text()
    before_lines = render_zone_lines(owner, plan.before_ttl or 0, plan.before)
    after_lines = render_zone_lines(owner, plan.after_ttl or 0, plan.after)
    return {
        "changed": plan.changed,
        "fqdn": owner,
        "zone": request.zone.to_text(),
        "ttl": plan.after_ttl,
        "records": [record.as_dict() for record in plan.after],
        "before": before_lines,
        "after": after_lines,
        "diff": {
            "before_header": "%s SRV" % owner,
            "after_header": "%s SRV" % owner,
            "before": "".join(line + "\n" for line in before_lines),
            "after": "".join(line + "\n" for line in after_lines),
        },
        "warnings": request.warnings,
    }
