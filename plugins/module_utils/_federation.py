# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""A federation tester: discovery, then every target address checked as a homeserver would.

For each server name: the discovery engine resolves it; meanwhile the server well-known is
fetched from every address of the hostname and the SRV records are described. Then every
target address gets one TLS connection (right SNI, chain and name verified, expiry read) over
which /_matrix/federation/v1/version and /_matrix/key/v2/server are requested with the right
Host header; the key response must be for this server name, unexpired, hold an ed25519 key
and carry its own valid signature.

federation_ok is false exactly when the name's problem list holds an error: the name is
invalid or unresolvable, an SRV record is unusable, a target address fails, or the well-known
answers 200 with an invalid document (Synapse then fails federation outright) or differs
between addresses. Warnings never make it false.

Backup SRV targets: remote servers try SRV targets by priority, the lowest value first, and
use a target at a higher value only when every target at the lowest fails. An address of
such a backup target is checked like the others and its connection report keeps its
problems, but the name gets a ``backup_target_failed`` warning for it instead of those
errors. Every address at the lowest priority value (and every address without SRV) must work.

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

import datetime
import time

from ansible_collections.homeserver.delegation.plugins.module_utils._certificate import (
    certificate_problems,
    describe_certificate,
    public_description,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._discovery import (
    SPECULATION_MAX_NAMES,
    DiscoveryError,
    ServerDiscovery,
    default_concurrency,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._json_document import (
    JsonDocumentError,
    parse_json_body,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._loop import bounded, call, join, run, spawn
from ansible_collections.homeserver.delegation.plugins.module_utils._name_budget import (
    NameBudget,
    NameBudgetTransport,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._problems import is_error, problem
from ansible_collections.homeserver.delegation.plugins.module_utils._processes import map_shares, processes_for
from ansible_collections.homeserver.delegation.plugins.module_utils._server_keys import check_server_keys
from ansible_collections.homeserver.delegation.plugins.module_utils._server_name import (
    ServerNameError,
    parse_server_name,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._shared_transport import SharedTransport
from ansible_collections.homeserver.delegation.plugins.module_utils._srv_info import asrv_info
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import is_ip_address, url_host
from ansible_collections.homeserver.delegation.plugins.module_utils._well_known_info import awell_known_info

VERSION_PATH = "/_matrix/federation/v1/version"
KEYS_PATH = "/_matrix/key/v2/server"

# Well-known codes that mean "answered 200 but the document is unusable".
INVALID_DOCUMENT_CODES = ("not_json", "not_object", "missing_m_server", "invalid_m_server", "too_large")
# Well-known fetch failures of one address of the hostname.
_ADDRESS_WARNINGS = ("unreachable", "timeout", "tls_invalid")
# Connections to target addresses that may run at once for one name.
MAX_CONNECTIONS_PER_NAME = 16


def _json_body(response):
    """(the parsed JSON of a probe response or None, why it could not be parsed or None)."""
    if not response or response.get("status") != 200 or response.get("too_large"):
        return None, None
    try:
        return parse_json_body(response["body"]), None
    except JsonDocumentError as exc:
        return None, str(exc)


def _response_problem(response, path, code_prefix):
    """The problem of a non-200 or failed response, or None."""
    if response.get("error"):
        if response.get("error_kind") == "timeout":
            # Not a missing endpoint: the server did not answer in time (or trickled).
            return problem("connection_timeout", "GET %s failed: %s" % (path, response["error"]))
        return problem(code_prefix + "_unavailable", "GET %s failed: %s" % (path, response["error"]))
    if response.get("status") != 200:
        return problem(code_prefix + "_unavailable", "GET %s answered HTTP %s" % (path, response.get("status")))
    return None


async def check_connection(transport, server_name, target, host_header, tls_server_name, now):
    """Check one target address; return its connection report (with ok and problems)."""
    address, port = target["address"], target["port"]
    label = "%s port %d (%s)" % (url_host(address), port, target["host"])
    report = {
        "host": target["host"], "port": port, "address": address, "priority": target.get("priority"),
        "backup": False, "ok": False, "tls": None, "certificate": None, "version": None, "server_keys": None, "problems": [],
    }
    problems = report["problems"]
    validate_certs = getattr(transport, "validate_certs", True)
    probe = await call(transport, "probe_federation", address, port, tls_server_name, host_header,
                       [VERSION_PATH, KEYS_PATH])
    if probe["error"]:
        kind, message = probe["error"]["kind"], probe["error"]["message"]
        code = {"timeout": "connection_timeout", "tls_handshake": "tls_handshake_failed"}.get(kind, "connection_failed")
        problems.append(problem(code, "%s: %s" % (label, message)))
        return report

    tls = probe["tls"]
    report["tls"] = {"version": tls.get("version"), "cipher": tls.get("cipher"), "verified": tls.get("verified"),
                     "sni": tls_server_name if tls_server_name and not is_ip_address(tls_server_name.strip("[]")) else None,
                     "verify_message": tls.get("verify_message")}
    description = None
    if tls.get("certificate_der"):
        description = describe_certificate(tls["certificate_der"], now)
        report["certificate"] = public_description(description)
    for item in certificate_problems(tls, description, tls_server_name, now, validate_certs):
        problems.append(dict(item, message="%s: %s" % (label, item["message"])))

    version_response = probe["responses"].get(VERSION_PATH) or {}
    report["version"] = {"status": version_response.get("status"), "server": None}
    failure = _response_problem(version_response, VERSION_PATH, "version")
    if failure:
        problems.append(dict(failure, message="%s: %s" % (label, failure["message"])))
    else:
        document, parse_error = _json_body(version_response)
        server = document.get("server") if isinstance(document, dict) else None
        if not isinstance(server, dict):
            problems.append(problem("version_invalid", "%s: GET %s did not return {\"server\": {...}} JSON%s"
                                    % (label, VERSION_PATH, " (%s)" % parse_error if parse_error else "")))
        else:
            report["version"]["server"] = {"name": server.get("name"), "version": server.get("version")}

    keys_response = probe["responses"].get(KEYS_PATH) or {}
    report["server_keys"] = {"status": keys_response.get("status")}
    failure = _response_problem(keys_response, KEYS_PATH, "keys")
    if failure:
        problems.append(dict(failure, message="%s: %s" % (label, failure["message"])))
    else:
        document, parse_error = _json_body(keys_response)
        keys = check_server_keys(document, server_name, int(now.timestamp() * 1000))
        if parse_error:
            keys["problems"] = [problem("keys_invalid", "the key response is not usable JSON: %s" % parse_error)]
        for item in keys.pop("problems"):
            problems.append(dict(item, message="%s: %s" % (label, item["message"])))
        report["server_keys"].update(keys)
    report["ok"] = not is_error(problems)
    return report


def _well_known_problems(well_known):
    """Name-level problems from the well-known report (server document)."""
    document = (well_known or {}).get("server")
    if not document:
        return []
    problems = []
    some_answered = any(entry["status"] is not None for entry in document["addresses"])
    for entry in document["addresses"]:
        if entry["status"] == 200 and entry["error_code"] in INVALID_DOCUMENT_CODES:
            problems.append(problem(
                entry["error_code"],
                "the well-known from %s answers 200 with an invalid document (%s): Synapse then fails to "
                "federate with this name instead of falling back" % (entry["address"], entry["error"])))
        elif some_answered and entry["error_code"] in _ADDRESS_WARNINGS:
            # One address failing while discovery got its answer from another; when every
            # address fails, discovery already says so (well_known_unreachable...).
            problems.append(problem(entry["error_code"], "the well-known from address %s: %s"
                                    % (entry["address"], entry["error"]), "warning"))
    problems.extend(item for item in document["problems"]
                    if item["code"] in ("inconsistent", "cache_period", "wrong_content_type"))
    return problems


def _srv_host(result, parsed):
    """The hostname whose SRV records discovery consulted, or None."""
    if result is None or result["method"] in ("srv", "srv_legacy", "default_port"):
        return parsed.lookup_name
    if result["method"] in ("well_known_srv", "well_known_srv_legacy", "well_known_default_port"):
        return parse_server_name(result["delegated_server"]).lookup_name
    return None


async def check_server(transport, server_name, discovery, now, name_timeout=None):
    """Check one server name; return its report (federation_ok, discovery, well_known, srv,
    connections, problems).

    ``name_timeout`` (seconds, None: none) is the time budget of everything done for the name
    (discovery, well-known and SRV reports, target probes; see ``_name_budget``). When
    ``discovery`` speculates (few names at once), the SRV report of the name is asked for
    while discovery runs, saving round trips; otherwise only once discovery has said which
    hostname's SRV records it consulted, saving the queries a delegation by well-known to an
    explicit port never needs.
    """
    budget = None
    if name_timeout is not None:
        budget = NameBudget(name_timeout)
        transport = NameBudgetTransport(transport, budget)
    report = {"server_name": server_name, "federation_ok": False, "discovery": None, "well_known": None,
              "srv": None, "connections": [], "problems": []}
    try:
        parsed = parse_server_name(server_name)
    except ServerNameError as exc:
        report["problems"].append(problem("invalid_server_name", str(exc)))
        return report

    uses_well_known = not parsed.is_ip_literal and parsed.port is None
    # The well-known and SRV reports run while discovery does, then the probes of the targets.
    well_known_task = srv_task = connections_task = None
    if uses_well_known:
        well_known_task = spawn(awell_known_info(transport, server_name, ("server",), None, None, now.timestamp()))
        if discovery.speculative:
            srv_task = spawn(asrv_info(transport, parsed.lookup_name))
    problems = report["problems"]
    try:
        result = await discovery.aresolve(server_name, transport)
    except DiscoveryError as exc:
        result = None
        report["discovery"] = exc.result
        problems.extend((exc.result or {}).get("problems") or [])
        if not is_error(problems):
            problems.append(problem("unresolvable", "%s: %s" % (server_name, exc.reason)))
    else:
        report["discovery"] = result

    if result is not None:
        connections_task = spawn(bounded(MAX_CONNECTIONS_PER_NAME, [
            check_connection(transport, server_name, target, result["host_header"], result["tls_server_name"], now)
            for target in result["targets"]]))
        problems.extend(result["problems"])

    if well_known_task is not None:
        (report["well_known"],) = await join(well_known_task)
        extra = _well_known_problems(report["well_known"])
        if any(item["code"] in INVALID_DOCUMENT_CODES for item in extra):
            # The precise error replaces discovery's "fell back" warning.
            problems[:] = [item for item in problems if item["code"] != "well_known_invalid"]
        problems.extend(extra)
    srv_host = _srv_host(result, parsed) if uses_well_known else None
    if srv_host is not None:
        if srv_task is None or srv_host != parsed.lookup_name:
            srv_task = spawn(asrv_info(transport, srv_host))
        (report["srv"],) = await join(srv_task)
        # Built as discovery builds them (_srv): what both saw appears once below.
        problems.extend(report["srv"]["problems"])

    preferred = _preferred_priority(result)
    (connections,) = await join(connections_task) if connections_task is not None else ([],)
    for connection in connections:
        report["connections"].append(connection)
        if preferred is not None and connection["priority"] is not None and connection["priority"] > preferred:
            connection["backup"] = True
            problems.extend(_backup_problems(connection, preferred))
        else:
            problems.extend(connection["problems"])
    if result is not None and not report["connections"]:
        problems.append(problem("unresolvable", "%s: discovery found no target address" % server_name))

    budget_problem = budget.problem(server_name) if budget is not None else None
    if budget_problem is not None:
        problems.append(budget_problem)
    # One entry per distinct problem: discovery, the well-known and the SRV reports overlap.
    unique = []
    for item in problems:
        if item not in unique:
            unique.append(item)
    problems[:] = unique
    report["federation_ok"] = not is_error(problems)
    return report


def _preferred_priority(result):
    """The lowest SRV priority value among discovery's targets (None: not SRV delegation)."""
    priorities = [target.get("priority") for target in (result or {}).get("targets") or []]
    priorities = [value for value in priorities if value is not None]
    return min(priorities) if priorities else None


def _backup_problems(connection, preferred):
    """The name-level problems of a backup target's address: its warnings and infos as they
    are, its errors folded into one ``backup_target_failed`` warning."""
    errors = [item for item in connection["problems"] if item["severity"] == "error"]
    problems = [item for item in connection["problems"] if item["severity"] != "error"]
    if errors:
        problems.append(problem("backup_target_failed", (
            "%s port %d (%s) is a backup target (SRV priority %d; remote servers use it only when every target "
            "at priority %d fails) and fails: %s") % (
            url_host(connection["address"]), connection["port"], connection["host"], connection["priority"], preferred,
            "; ".join("%s: %s" % (item["code"], item["message"]) for item in errors))))
    return problems


def summary_line(report):
    """One line for msg: the verdict, how the name resolved, and what is wrong."""
    name = report["server_name"]
    errors = [item for item in report["problems"] if item["severity"] == "error"]
    warnings = [item for item in report["problems"] if item["severity"] == "warning"]
    discovery = report.get("discovery") or {}
    connections = report["connections"]
    how = ""
    if discovery.get("method"):
        how = " via %s (%d address%s checked)" % (discovery["method"], len(connections),
                                                  "" if len(connections) == 1 else "es")
    if report["federation_ok"]:
        return "%s: federation OK%s%s" % (
            name, how, ", %d warning%s: %s" % (len(warnings), "" if len(warnings) == 1 else "s",
                                               ", ".join(sorted(set(p["code"] for p in warnings))))
            if warnings else "")
    codes = []
    for item in errors:
        if item["code"] not in codes:
            codes.append(item["code"])
    return "%s: federation FAILS%s: %s" % (name, how, ", ".join(codes))


def federation_check(transport, server_names, concurrency=None, now=None, name_timeout=None, processes=None):
    """Check every name in server_names concurrently.

    Returns {federation_ok, servers: {name: report}, processes, msg}. Names are checked at most
    concurrency at a time (default: the discovery engine's default for that many names).
    ``name_timeout``: the time budget of each name (see :func:`check_server`).
    ``processes``: how many processes share the names (default: see
    :func:`~._processes.processes_for`; never more than the names checked at once). Each
    runs its share on its own loop; one is this process.
    """
    names = []
    for name in server_names:
        if name not in names:
            names.append(name)
    if now is None:
        now = datetime.datetime.fromtimestamp(time.time(), datetime.timezone.utc)
    workers = max(1, min(concurrency or default_concurrency(len(names)), len(names) or 1))
    processes = min(workers, processes_for(len(names)) if processes is None else max(1, processes))

    def check_share(share):
        share_workers = max(1, workers // processes)
        shared = SharedTransport(transport)
        # Speculative queries (see _discovery) only while few names are checked at once.
        discovery = ServerDiscovery(shared, speculative=share_workers * processes <= SPECULATION_MAX_NAMES)
        # Every name a coroutine on one loop (_loop), at most ``share_workers`` at once.
        return run(bounded(share_workers, [check_server(shared, name, discovery, now, name_timeout)
                                           for name in share]))

    reports = check_share(names) if processes == 1 else map_shares(check_share, names, processes)
    servers = dict(zip(names, reports))
    lines = [summary_line(servers[name]) for name in names]
    return {
        "federation_ok": bool(names) and all(report["federation_ok"] for report in servers.values()),
        "servers": servers,
        "processes": processes,
        "msg": "\n".join(lines),
    }
