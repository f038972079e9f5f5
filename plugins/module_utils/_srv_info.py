# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""A report on the Matrix SRV records of one hostname (both service names).

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

from ansible_collections.homeserver.delegation.plugins.module_utils import _srv
from ansible_collections.homeserver.delegation.plugins.module_utils._loop import call, gather, run
from ansible_collections.homeserver.delegation.plugins.module_utils._problems import problem
from ansible_collections.homeserver.delegation.plugins.module_utils._server_name import parse_server_name
from ansible_collections.homeserver.delegation.plugins.module_utils._srv import (
    NO_RECORD_RCODES,
    SERVICES,
    target_name as _dns_name,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import lookup_host_addresses


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


async def _service_report(service_name, answer, transport):
    # Preference order for the report: priority ascending, then the heavier weight first
    # (remote servers pick by weighted chance within a priority).
    records = sorted(answer.records, key=lambda record: (record.priority, -record.weight, _dns_name(record.target)))
    report = {
        "name": service_name,
        "rcode": answer.rcode,
        "error": answer.error,
        "records": [],
    }
    targets = []
    for record in records:
        target = _dns_name(record.target)
        entry = {"priority": record.priority, "weight": record.weight, "port": record.port, "target": target,
                 "addresses": [], "is_cname": False, "cname_chain": []}
        report["records"].append(entry)
        if target != "." and target not in targets:
            targets.append(target)
    resolved_by_target = dict(zip(targets, await lookup_host_addresses(transport, targets)))
    for entry in report["records"]:
        resolved = resolved_by_target.get(entry["target"])
        if resolved is not None:
            entry.update(addresses=resolved.addresses, is_cname=bool(resolved.cname_chain),
                         cname_chain=resolved.cname_chain)
    return report, resolved_by_target


def _service_problems(report, resolved_by_target, severity):
    """The problems of one service's report; ``severity`` None: each code's own, "warning":
    the service is not the one homeservers use."""
    label = report["name"]
    problems = []
    if report["rcode"] not in NO_RECORD_RCODES:
        problems.append(_srv.lookup_failed(label, report["rcode"], report["error"], severity))
    usable = [record for record in report["records"] if record["target"] != "."]
    if report["records"] and not usable:
        problems.append(_srv.unavailable(label, severity))
    elif len(usable) < len(report["records"]):
        problems.append(_srv.invalid_target(label, severity or "warning"))
    preferred = _srv.preferred_priority(usable)
    preferred_has_address = any(record["addresses"] for record in usable if record["priority"] == preferred)
    for record in usable:
        if record["is_cname"]:
            problems.append(_srv.target_is_cname(label, record["target"], record["cname_chain"], severity))
        if not record["addresses"]:
            problems.append(_srv.target_unresolvable(
                label, record["target"], record["port"], resolved_by_target[record["target"]], preferred_has_address,
                severity))
    return problems


def _record_key(record):
    return (record["priority"], record["weight"], record["port"], record["target"])


def srv_info(*args, **kwargs):
    """:func:`asrv_info` from synchronous code (on a loop of its own)."""
    return run(asrv_info(*args, **kwargs))


async def asrv_info(transport, name, expected_target=None, expected_port=None):
    """Look up both Matrix SRV services of name and report records, targets and problems.

    Returns {name, services: {service: report}, effective_service, problems}. The effective
    service is the one a homeserver uses: _matrix-fed._tcp when it has records, else the
    deprecated _matrix._tcp, else None. Codes: srv_lookup_failed, srv_unavailable,
    srv_invalid_target (warning), target_is_cname, target_unresolvable, legacy_only (warning),
    services_differ (warning), mismatch; the problems of the service homeservers do not use
    are warnings (see ``_srv``), and they are built as the discovery engine builds
    them.
    """
    hostname = parse_srv_hostname(name)
    # Both SRV queries at once, then the addresses of every target of both at once.
    names = dict((service, "%s.%s" % (service, hostname)) for service in SERVICES)
    answers = await gather(*[call(transport, "query_srv", names[service]) for service in SERVICES])
    reports = await gather(*[_service_report(names[service], answer, transport)
                             for service, answer in zip(SERVICES, answers)])
    reports = dict(zip(SERVICES, reports))
    services = dict((service, reports[service][0]) for service in SERVICES)
    in_use = _srv.service_in_use(
        dict((service, (report["rcode"], len(report["records"]))) for service, report in services.items()))

    problems = []
    for service in SERVICES:
        problems.extend(_service_problems(services[service], reports[service][1],
                                          None if service == in_use else "warning"))

    current, legacy = services[SERVICES[0]], services[SERVICES[1]]
    if not current["records"] and legacy["records"]:
        problems.append(_srv.legacy_only(hostname))
    if current["records"] and legacy["records"] and \
            sorted(map(_record_key, current["records"])) != sorted(map(_record_key, legacy["records"])):
        problems.append(problem(
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
            problems.append(problem("mismatch", "no Matrix SRV record exists for %s, expected %s" % (hostname, expected)))
        elif wrong:
            problems.append(problem(
                "mismatch", "%s points to %s, expected %s" % (services[effective]["name"], ", ".join(wrong), expected)))

    return {"name": hostname, "services": services, "effective_service": effective, "problems": problems}
