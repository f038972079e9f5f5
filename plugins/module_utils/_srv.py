# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""Matrix SRV in one place: the service names, the record type, and the SRV problems.

This module is internal to the homeserver.delegation collection and may change at any time.

The transport's answers, the SRV report and the srv_record module all use :class:`SrvRecord`.
The discovery engine (``_discovery``) and the SRV report (``_srv_info``) both describe SRV
records; they build their problems here, so the same fault gets the same code, severity and
message from both, and ``federation_check``, which runs both, keeps one of each.

Severity rules (docs/troubleshooting.md, "SRV records"):

- Records are tried by priority, the lowest value first (RFC 2782); targets at that value are
  the preferred ones, the others are backups.
- ``target_unresolvable`` is an error when no preferred target has an address, else a warning.
- A problem of a service homeservers do not use (``_matrix._tcp`` while ``_matrix-fed._tcp``
  has records) is a warning: see :func:`service_in_use`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.homeserver.delegation.plugins.module_utils._problems import problem

FEDERATION_SERVICE = "_matrix-fed._tcp"
LEGACY_SERVICE = "_matrix._tcp"
#: In the order homeservers consult them.
SERVICES = (FEDERATION_SERVICE, LEGACY_SERVICE)
#: DNS answers that mean "no records" rather than a failed lookup.
NO_RECORD_RCODES = ("NOERROR", "NODATA", "NXDOMAIN")


@dataclass(frozen=True, order=True)
class SrvRecord:
    """One SRV record's data. ``target`` is DNS text: as received in an answer it may end with
    "." (the root alone is "."); the records srv_record builds are absolute, lower-case and end
    with a dot."""

    priority: int
    weight: int
    port: int
    target: str

    def to_text(self) -> str:
        """The record data as written in a zone file: ``priority weight port target``."""
        return "%d %d %d %s" % (self.priority, self.weight, self.port, self.target)

    def as_dict(self) -> dict:
        """The record as the srv_record module returns it."""
        return {"priority": self.priority, "weight": self.weight, "port": self.port, "target": self.target}


def target_name(target):
    """An SRV target as text, lower-cased, without its trailing dot (the root stays ".")."""
    return str(target).rstrip(".").lower() or "."


def preferred_priority(records):
    """The lowest priority value among ``records`` (objects or dicts with ``priority`` and
    ``target``) whose target is not ".", or None when there is none."""
    values = [_field(record, "priority") for record in records if target_name(_field(record, "target")) != "."]
    return min(values) if values else None


def _field(record, name):
    return record[name] if isinstance(record, dict) else getattr(record, name)


def service_in_use(rcodes_and_counts):
    """The service homeservers use, from ``{service: (rcode, number of records)}``.

    ``_matrix-fed._tcp`` when its lookup failed (Synapse stops there) or it has records;
    otherwise ``_matrix._tcp`` when its lookup failed or it has records; otherwise None.
    """
    for service in SERVICES:
        rcode, count = rcodes_and_counts[service]
        if rcode not in NO_RECORD_RCODES or count:
            return service
    return None


def lookup_failed(srv_name, rcode, error, severity=None):
    """``srv_lookup_failed`` for the SRV query of ``srv_name``."""
    return problem("srv_lookup_failed", "the SRV lookup of %s failed with %s%s: Synapse fails to connect rather "
                   "than fall back while the lookup fails" % (srv_name, rcode, " (%s)" % error if error else ""),
                   severity)


def unavailable(srv_name, severity=None):
    """``srv_unavailable``: the only record of ``srv_name`` has the target "."."""
    return problem("srv_unavailable", "%s has the target '.': the service is decidedly not available (RFC 2782) "
                   "and remote servers will not connect at all" % srv_name, severity)


def invalid_target(srv_name, severity=None):
    """``srv_invalid_target``: "." mixed with real targets."""
    return problem("srv_invalid_target", "%s mixes the target '.' with real targets; '.' is ignored" % srv_name,
                   severity)


def target_is_cname(srv_name, target, cname_chain, severity=None):
    """``target_is_cname`` for ``target`` of ``srv_name``, an alias of ``cname_chain``."""
    return problem("target_is_cname", "the SRV target %s of %s is a CNAME (-> %s); RFC 2782 forbids aliases as SRV "
                   "targets and strict servers skip it: point the record at the canonical name"
                   % (target, srv_name, " -> ".join(cname_chain)), severity)


def target_unresolvable(srv_name, target, port, resolved, preferred_has_address, severity=None):
    """``target_unresolvable`` for ``target`` (port ``port``) of ``srv_name``; ``resolved`` is
    its :class:`HostAddresses`. An error unless a preferred target has an address."""
    if severity is None and preferred_has_address:
        severity = "warning"
    return problem("target_unresolvable", "the SRV target %s (port %d) of %s has no address: %s"
                   % (target, port, srv_name, resolved.describe()), severity)


def legacy_only(host, severity=None):
    """``legacy_only``: only ``_matrix._tcp.<host>`` has records."""
    return problem("legacy_only", "only the deprecated SRV record %s.%s exists; publish %s.%s (or a well-known) "
                   "instead" % (LEGACY_SERVICE, host, FEDERATION_SERVICE, host), severity)
