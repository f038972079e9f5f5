# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""The verification report: one data structure, rendered as console lines and as Markdown.

Built from the results of federation_check, well_known_info (client document) and srv_info.
The report holds no timestamp, so writing it again for an unchanged setup changes nothing.

This module is internal to the homeserver.delegation collection and may change at any time.
"""

from __future__ import annotations

from ansible_collections.homeserver.delegation.plugins.module_utils._problems import anchor

TROUBLESHOOTING_URL = "https://github.com/homeserver-delegation/homeserver.delegation/blob/main/docs/troubleshooting.md"


def _url_host(address):
    return "[%s]" % address if ":" in address else address


def _by_name(results, key):
    """Index a registered loop's results (or plain reports) by the name they were run for."""
    indexed = {}
    for result in results or []:
        if not isinstance(result, dict):
            continue
        name = result.get(key) or (result.get("invocation") or {}).get("module_args", {}).get(key) or result.get("item")
        if name is not None:
            indexed[name] = result
    return indexed


def build_report(federation, client_results=None, srv_results=None):
    """Combine the module results into {federation_ok, summary, servers: {name: ...}}.

    federation is federation_check's result; client_results and srv_results are lists of
    well_known_info (client document) and srv_info results, for example a loop's results.
    """
    clients = _by_name(client_results, "server_name")
    srvs = _by_name(srv_results, "name")
    servers = {}
    for name, report in (federation.get("servers") or {}).items():
        client = clients.get(name) or {}
        srv = srvs.get(name) or srvs.get(name.lower()) or {}
        client_document = client.get("client")
        problems = list(report.get("problems") or [])
        for problem in (client.get("problems") or []) if client_document else []:
            if problem["code"] == "not_found":
                # Optional: without it users type the homeserver URL into their client.
                problem = dict(problem, severity="warning", message=problem["message"] + " (clients cannot "
                               "discover the homeserver URL; users must enter it by hand)")
            if problem not in problems:
                problems.append(problem)
        for problem in srv.get("problems") or []:
            if problem not in problems:
                problems.append(problem)
        servers[name] = {
            "federation_ok": report.get("federation_ok", False),
            "discovery": report.get("discovery"),
            "server_well_known": (report.get("well_known") or {}).get("server"),
            "client_well_known": client_document,
            "srv": srv.get("services") and {"effective_service": srv.get("effective_service"),
                                            "services": srv.get("services")},
            "connections": report.get("connections") or [],
            "problems": problems,
        }
    names = list(servers)
    ok = [name for name in names if servers[name]["federation_ok"]]
    return {
        "federation_ok": bool(names) and len(ok) == len(names),
        "summary": "Federation works for %d of %d server name%s." % (len(ok), len(names), "" if len(names) == 1 else "s"),
        "servers": servers,
    }


def _certificate_text(connection):
    certificate = connection.get("certificate")
    if not certificate:
        return "no certificate"
    names = ", ".join((certificate.get("dns_names") or []) + (certificate.get("ip_addresses") or [])) or "no names"
    return "%s, until %s (%d days)" % (names, certificate["not_after"][:10], certificate["days_remaining"])


def _version_text(connection):
    server = (connection.get("version") or {}).get("server")
    if server:
        return "%s %s" % (server.get("name") or "?", server.get("version") or "")
    status = (connection.get("version") or {}).get("status")
    return "HTTP %s" % status if status else "-"


def _keys_text(connection):
    keys = connection.get("server_keys") or {}
    if keys.get("verified_signatures"):
        return "of %s (%s), signature verified" % (keys.get("server_name"), ", ".join(keys["verified_signatures"]))
    if keys.get("status"):
        return "HTTP %s, not verified" % keys["status"]
    return "-"


def _tls_text(connection):
    tls = connection.get("tls")
    if not tls:
        return "-"
    return "%s, %s" % (tls.get("version") or "?", "verified" if tls.get("verified") else "NOT verified")


def _delegation_lines(server):
    discovery = server.get("discovery") or {}
    lines = []
    if discovery.get("method"):
        lines.append("discovery: %s%s; Host %s, certificate name %s, SNI %s" % (
            discovery["method"],
            ", m.server %s" % discovery["delegated_server"] if discovery.get("delegated_server") else "",
            discovery.get("host_header"), discovery.get("tls_server_name"), discovery.get("sni") or "none"))
    well_known = server.get("server_well_known")
    if well_known:
        lines.append("server well-known: %s -> %s%s" % (
            well_known["url"], "HTTP %s" % well_known["status"] if well_known.get("status") else "no response",
            ", cached %d s" % well_known["cache_seconds"] if well_known.get("cache_seconds") else ""))
    client = server.get("client_well_known")
    if client:
        versions = (client.get("versions") or {}).get("versions") or []
        lines.append("client well-known: %s -> %s%s%s" % (
            client["url"], "HTTP %s" % client["status"] if client.get("status") else "no response",
            ", base_url %s" % client["base_url"] if client.get("base_url") else "",
            ", spec versions %s..%s" % (versions[0], versions[-1]) if versions else ""))
    srv = server.get("srv")
    if srv:
        parts = []
        for service, details in sorted(srv["services"].items()):
            records = details.get("records") or []
            parts.append("%s %s" % (service, ", ".join("%s:%d" % (r["target"], r["port"]) for r in records)
                                    if records else details.get("rcode")))
        lines.append("SRV: " + "; ".join(parts))
    return lines


def render_lines(report):
    """The report as short console lines."""
    lines = [report["summary"]]
    for name, server in report["servers"].items():
        lines.append("")
        lines.append("%s: federation %s" % (name, "OK" if server["federation_ok"] else "FAILS"))
        lines.extend("  " + line for line in _delegation_lines(server))
        for connection in server["connections"]:
            lines.append("  [%s] %s port %d (%s): TLS %s; certificate %s; %s; keys %s" % (
                "ok" if connection["ok"] else "FAIL", _url_host(connection["address"]), connection["port"],
                connection["host"], _tls_text(connection), _certificate_text(connection), _version_text(connection),
                _keys_text(connection)))
        for problem in server["problems"]:
            if problem["severity"] in ("error", "warning"):
                lines.append("  %-7s %s: %s" % (problem["severity"], problem["code"], problem["message"]))
    return lines


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report, troubleshooting_url=TROUBLESHOOTING_URL):
    """The report as a Markdown document."""
    out = ["# Matrix federation report", "", report["summary"], "",
           "| Server name | Federation | Method | Delegated to | Addresses OK | Errors | Warnings |",
           "|---|---|---|---|---|---|---|"]
    for name, server in report["servers"].items():
        discovery = server.get("discovery") or {}
        connections = server["connections"]
        out.append("| %s | %s | %s | %s | %d of %d | %d | %d |" % (
            _cell(name), "OK" if server["federation_ok"] else "**FAILS**", discovery.get("method") or "-",
            _cell(discovery.get("delegated_server") or "-"), sum(1 for c in connections if c["ok"]), len(connections),
            sum(1 for p in server["problems"] if p["severity"] == "error"),
            sum(1 for p in server["problems"] if p["severity"] == "warning")))
    for name, server in report["servers"].items():
        out += ["", "## %s: federation %s" % (name, "OK" if server["federation_ok"] else "FAILS"), ""]
        out += ["- %s" % _cell(line) for line in _delegation_lines(server)]
        if server["connections"]:
            out += ["", "| Address | Port | Host | TLS | Certificate | Server | Keys | Result |",
                    "|---|---|---|---|---|---|---|---|"]
            for connection in server["connections"]:
                out.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                    _cell(connection["address"]), connection["port"], _cell(connection["host"]),
                    _cell(_tls_text(connection)), _cell(_certificate_text(connection)),
                    _cell(_version_text(connection)), _cell(_keys_text(connection)),
                    "ok" if connection["ok"] else "**FAIL**"))
        shown = [p for p in server["problems"] if p["severity"] in ("error", "warning")]
        if shown:
            out += ["", "Problems:", ""]
            for problem in shown:
                out.append("- **%s** [`%s`](%s#%s): %s" % (
                    problem["severity"], problem["code"], troubleshooting_url, anchor(problem["code"]),
                    _cell(problem["message"])))
        steps = (server.get("discovery") or {}).get("steps") or []
        if steps:
            out += ["", "<details><summary>Discovery steps</summary>", ""]
            out += ["%d. %s" % (index, _cell(step)) for index, step in enumerate(steps, 1)]
            out += ["", "</details>"]
    return "\n".join(out) + "\n"
