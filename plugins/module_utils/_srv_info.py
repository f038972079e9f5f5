# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""A report on the Matrix SRV records of one hostname (both service names).

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.homeserver.delegation.plugins.module_utils._server_name import parse_server_name

SERVICES = ("_matrix-fed._tcp", "_matrix._tcp")
_OK_RCODES = ("NOERROR", "NODATA", "NXDOMAIN")


def _problem(code, message, severity="error"):
    return {"code": code, "severity": severity, "message": message}


def _dns_name(text):
    """A DNS name as text without the trailing root dot (the root itself stays '.')."""
    return text.rstrip(".").lower() or "."


def parse_srv_hostname(name):
    """Parse name (a server name) and return the hostname SRV records are looked up for.

    Raises ValueError (naming the input) for IP literals and names with a port: SRV records
    are never used for them.
    """
    server_name = parse_server_name(name)
    if server_name.is_ip_literal:
        raise ValueError("%s is an IP literal: SRV records are never looked up for it" % name)
    if server_name.port is not None:
        raise ValueError("%s has an explicit port: SRV records are never looked up for it; "
                         "give the hostname alone" % name)
    return server_name.lookup_name


def _resolve_target(transport, target):
    """Addresses of one SRV target, and the CNAME chain if the target is an alias."""
    answers = [transport.query_address(target, family) for family in ("AAAA", "A")]
    addresses = [address for answer in answers for address in answer.addresses]
    cname_chain = next((answer.cname_chain for answer in answers if answer.cname_chain), [])
    failed = [answer for answer in answers if answer.rcode not in _OK_RCODES]
    return {
        "addresses": addresses,
        "is_cname": bool(cname_chain),
        "cname_chain": list(cname_chain),
        "dns_errors": ["%s %s: %s" % (answer.family, answer.rcode, answer.error or "no answer") for answer in failed],
    }


def _service_report(transport, service_name, executor):
    answer = transport.query_srv(service_name)
    # Preference order for the report: priority ascending, then the heavier weight first
    # (remote servers pick by weighted chance within a priority).
    records = sorted(answer.records, key=lambda record: (record.priority, -record.weight, _dns_name(record.target)))
    report = {
        "name": service_name,
        "rcode": answer.rcode,
        "error": answer.error,
        "records": [],
    }
    futures = {}
    for record in records:
        target = _dns_name(record.target)
        entry = {"priority": record.priority, "weight": record.weight, "port": record.port, "target": target,
                 "addresses": [], "is_cname": False, "cname_chain": []}
        report["records"].append(entry)
        if target != ".":
            futures[id(entry)] = executor.submit(_resolve_target, transport, target)
    for entry in report["records"]:
        future = futures.get(id(entry))
        if future is not None:
            resolved = future.result()
            entry.update((key, resolved[key]) for key in ("addresses", "is_cname", "cname_chain"))
            entry["_dns_errors"] = resolved["dns_errors"]
    return report


def _record_key(record):
    return (record["priority"], record["weight"], record["port"], record["target"])


def srv_info(transport, name, expected_target=None, expected_port=None):
    """Look up both Matrix SRV services of name and report records, targets and problems.

    Returns {name, services: {service: report}, effective_service, problems}. The effective
    service is the one a homeserver uses: _matrix-fed._tcp when it has records, else the
    deprecated _matrix._tcp, else None. Codes: srv_lookup_failed, srv_unavailable,
    target_is_cname, target_unresolvable, legacy_only (warning), services_differ (warning),
    mismatch.
    """
    hostname = parse_srv_hostname(name)
    with ThreadPoolExecutor(max_workers=8) as executor:
        service_futures = [(service, executor.submit(_service_report, transport, "%s.%s" % (service, hostname),
                                                     executor)) for service in SERVICES]
        services = dict((service, future.result()) for service, future in service_futures)

    problems = []
    for service, report in services.items():
        label = report["name"]
        if report["rcode"] not in _OK_RCODES:
            problems.append(_problem(
                "srv_lookup_failed",
                "the SRV lookup of %s failed (%s%s): Synapse fails to connect rather than fall back while "
                "the lookup fails" % (label, report["rcode"], ": " + report["error"] if report["error"] else "")))
        if any(record["target"] == "." for record in report["records"]):
            problems.append(_problem(
                "srv_unavailable",
                "%s has the target '.': the service is declared unavailable and remote servers will not "
                "connect at all" % label))
        for record in report["records"]:
            if record["target"] == ".":
                continue
            if record["is_cname"]:
                problems.append(_problem(
                    "target_is_cname",
                    "the SRV target %s of %s is a CNAME (to %s); RFC 2782 forbids aliases as SRV targets: "
                    "point the record at the canonical name" % (record["target"], label, " -> ".join(record["cname_chain"]))))
            if not record["addresses"]:
                detail = "; ".join(record.get("_dns_errors") or []) or "no A or AAAA record"
                problems.append(_problem(
                    "target_unresolvable",
                    "the SRV target %s of %s has no address (%s)" % (record["target"], label, detail)))
        for record in report["records"]:
            record.pop("_dns_errors", None)

    current, legacy = services[SERVICES[0]], services[SERVICES[1]]
    if not current["records"] and legacy["records"]:
        problems.append(_problem(
            "legacy_only",
            "only the deprecated %s is published; add the same records as %s" % (legacy["name"], current["name"]),
            "warning"))
    if current["records"] and legacy["records"] and \
            sorted(map(_record_key, current["records"])) != sorted(map(_record_key, legacy["records"])):
        problems.append(_problem(
            "services_differ",
            "%s and %s list different records; homeservers use %s only, older software may use the other: "
            "make them equal or remove the deprecated one" % (current["name"], legacy["name"], current["name"]),
            "warning"))

    effective = SERVICES[0] if current["records"] else (SERVICES[1] if legacy["records"] else None)
    if expected_target is not None or expected_port is not None:
        expected = "%s:%s" % (_dns_name(expected_target) if expected_target else "*", expected_port or "*")
        records = services[effective]["records"] if effective else []
        wrong = ["%s:%d" % (record["target"], record["port"]) for record in records
                 if (expected_target is not None and record["target"] != _dns_name(expected_target))
                 or (expected_port is not None and record["port"] != expected_port)]
        if not records:
            problems.append(_problem("mismatch", "no Matrix SRV record exists for %s, expected %s" % (hostname, expected)))
        elif wrong:
            problems.append(_problem(
                "mismatch", "%s points to %s, expected %s" % (services[effective]["name"], ", ".join(wrong), expected)))

    return {"name": hostname, "services": services, "effective_service": effective, "problems": problems}
