# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.homeserver.delegation.plugins.filter.platform_problem import FilterModule

platform_problem = FilterModule().filters()["platform_problem"]

REDHAT = {"distribution": "RedHat", "distribution_version": "9.4", "distribution_release": "Plow", "os_family": "RedHat"}
JAMMY = {"distribution": "Ubuntu", "distribution_version": "22.04", "distribution_release": "jammy", "os_family": "Debian"}


def test_redhat_is_refused_naming_it():
    assert platform_problem(REDHAT).startswith("Unsupported system: RedHat 9.4 (release Plow, os_family RedHat). ")


def test_positional_web_server_and_variable():
    assert platform_problem(JAMMY, "caddy", "well_known_webserver").startswith(
        "well_known_webserver caddy cannot be used on Ubuntu 22.04 (jammy): ")


def test_a_supported_system_gives_an_empty_string():
    assert platform_problem(JAMMY) == ""
    assert platform_problem(JAMMY, "nginx", "well_known_webserver") == ""
