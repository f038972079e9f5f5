# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""The systems the roles support, once, and the check of a managed host against them.

This module is internal to the homeserver.delegation collection and may change at any time.

:data:`PLATFORMS` is the one list of supported systems: the roles refuse any other in their
first task (filter ``platform_problem``), and ``galaxy_info.platforms`` of every role, the role
READMEs and the collection README list exactly these (a unit test holds them together). A
platform may also name the web servers it cannot run, with the reason: a role asked to use one
of those there is refused the same way, before anything changes.

A host is matched by the Ansible facts ``distribution`` and ``distribution_version``: the same
distribution, and the platform's version exactly (Ubuntu's ``22.04``) or followed by a point
release (Debian's ``12.11``). Derivatives (Linux Mint, Pop!_OS, Kali...) report their own
``distribution`` and are refused: nothing is tested on them.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping

#: distribution and version as Ansible's facts report them, the release's code name (the name
#: galaxy_info.platforms uses), and {web server: why it cannot be used there}.
Platform = namedtuple("Platform", ("distribution", "version", "release", "unavailable"))

PLATFORMS = (
    Platform("Debian", "12", "bookworm", {}),
    Platform("Debian", "13", "trixie", {}),
    Platform("Ubuntu", "22.04", "jammy", {"caddy": "Ubuntu 22.04 has no caddy package in its archive"}),
    Platform("Ubuntu", "24.04", "noble", {}),
    Platform("Ubuntu", "26.04", "resolute", {}),
)

#: The facts a check reads; a role gathers them when one is missing.
FACTS = ("distribution", "distribution_version", "distribution_release", "os_family")

# Facts come from the managed host (os-release): shown, never trusted to be short or printable.
_MAX_SHOWN = 60


def platform_name(platform):
    """``Debian 12 (bookworm)``: how messages and documents name a platform."""
    return "%s %s (%s)" % (platform.distribution, platform.version, platform.release)


def _join(names):
    names = list(names)
    if len(names) < 2:
        return "".join(names)
    return "%s and %s" % (", ".join(names[:-1]), names[-1])


def _shown(facts, name):
    value = facts.get(name)
    if value is None or value == "":
        return "unknown"
    text = "".join(char if char.isprintable() else "?" for char in str(value))
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def find_platform(facts):
    """The supported platform that the facts describe, or None."""
    distribution = str(facts.get("distribution") or "")
    version = str(facts.get("distribution_version") or "")
    for platform in PLATFORMS:
        if distribution == platform.distribution and (
                version == platform.version or version.startswith(platform.version + ".")):
            return platform
    return None


def platform_problem(facts, web_server=None, variable=None):
    """Why the roles cannot run on the host these facts describe, or ``""`` when they can.

    ``facts`` is ``ansible_facts`` (names without the ``ansible_`` prefix); ``web_server`` the
    web server a role is asked to use there, if any, and ``variable`` the role variable that
    named it, for the message.
    """
    if not isinstance(facts, Mapping):
        return "platform_problem: ansible_facts must be a dictionary, got %s." % type(facts).__name__
    supported = _join(platform_name(platform) for platform in PLATFORMS)
    platform = find_platform(facts)
    if platform is None:
        return (
            "Unsupported system: %s %s (release %s, os_family %s). The roles of homeserver.delegation "
            "support %s only, and refuse other systems before changing anything."
            % (_shown(facts, "distribution"), _shown(facts, "distribution_version"),
               _shown(facts, "distribution_release"), _shown(facts, "os_family"), supported))
    if web_server is not None and web_server in platform.unavailable:
        elsewhere = _join(platform_name(other) for other in PLATFORMS if web_server not in other.unavailable)
        return (
            "%s%s cannot be used on %s: %s. Choose another web server on this host; %s is "
            "supported on %s."
            % ("%s " % variable if variable else "", web_server, platform_name(platform),
               platform.unavailable[web_server], web_server, elsewhere))
    return ""
