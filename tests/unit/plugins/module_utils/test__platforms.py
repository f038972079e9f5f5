# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils._platforms import (
    PLATFORMS,
    find_platform,
    platform_name,
    platform_problem,
)

# The promise of the READMEs and galaxy_info, written out: the data must say the same.
SUPPORTED = "Debian 12 (bookworm), Debian 13 (trixie), Ubuntu 22.04 (jammy), Ubuntu 24.04 (noble) and Ubuntu 26.04 (resolute)"


def facts(distribution, version, release, os_family="Debian"):
    return {"distribution": distribution, "distribution_version": version, "distribution_release": release,
            "os_family": os_family}


def test_the_supported_platforms_are_the_five_target_systems():
    assert [platform_name(platform) for platform in PLATFORMS] == SUPPORTED.replace(" and ", ", ").split(", ")


# What ansible.builtin.setup (gather_subset distribution) reported in the platform images of
# docs/molecule.md on 5 Dec 2026: the same with ansible-core 2.16, 2.19 and 2.21.
RECORDED = {
    "debian12": facts("Debian", "12.15", "bookworm"),
    "debian13": facts("Debian", "13.8", "trixie"),
    "ubuntu2204": facts("Ubuntu", "22.04", "jammy"),
    "ubuntu2404": facts("Ubuntu", "24.04", "noble"),
    "ubuntu2604": facts("Ubuntu", "26.04", "resolute"),
}


@pytest.mark.parametrize("image", sorted(RECORDED))
def test_the_facts_of_each_platform_image_match_its_platform(image):
    platform = find_platform(RECORDED[image])
    assert platform is not None and platform.release == RECORDED[image]["distribution_release"]


@pytest.mark.parametrize("system", [
    facts("Debian", "12.11", "bookworm"),
    facts("Debian", "12", "bookworm"),
    facts("Debian", "13.2", "trixie"),
    facts("Ubuntu", "22.04", "jammy"),
    facts("Ubuntu", "24.04", "noble"),
    facts("Ubuntu", "26.04", "resolute"),
], ids=["debian-12.11", "debian-12", "debian-13.2", "ubuntu-22.04", "ubuntu-24.04", "ubuntu-26.04"])
def test_supported_system_has_no_problem(system):
    assert platform_problem(system) == ""
    assert platform_problem(system, "nginx", "well_known_webserver") == ""


@pytest.mark.parametrize("system, shown", [
    (facts("RedHat", "9.4", "Plow", "RedHat"), "RedHat 9.4 (release Plow, os_family RedHat)"),
    (facts("Rocky", "9.5", "Blue Onyx", "RedHat"), "Rocky 9.5 (release Blue Onyx, os_family RedHat)"),
    (facts("Alpine", "3.20.3", "NA", "Alpine"), "Alpine 3.20.3 (release NA, os_family Alpine)"),
    (facts("Archlinux", "rolling", "n/a", "Archlinux"), "Archlinux rolling (release n/a, os_family Archlinux)"),
    (facts("openSUSE Leap", "15.6", "", "Suse"), "openSUSE Leap 15.6 (release unknown, os_family Suse)"),
    (facts("Debian", "11.11", "bullseye"), "Debian 11.11 (release bullseye, os_family Debian)"),
    (facts("Ubuntu", "20.04", "focal"), "Ubuntu 20.04 (release focal, os_family Debian)"),
    # Not an LTS release: nothing is tested on it.
    (facts("Ubuntu", "24.10", "oracular"), "Ubuntu 24.10 (release oracular, os_family Debian)"),
    # A derivative reports its own distribution, even on a supported base.
    (facts("Linuxmint", "22", "wilma"), "Linuxmint 22 (release wilma, os_family Debian)"),
    # Debian 120 is not Debian 12.
    (facts("Debian", "120.1", "future"), "Debian 120.1 (release future, os_family Debian)"),
], ids=["redhat-9", "rocky-9", "alpine-3.20", "arch", "opensuse-leap", "debian-11", "ubuntu-20.04", "ubuntu-24.10",
        "linux-mint", "debian-120"])
def test_unsupported_system_is_named_with_the_supported_list(system, shown):
    assert platform_problem(system) == (
        "Unsupported system: %s. The roles of homeserver.delegation support %s only, and refuse other systems "
        "before changing anything." % (shown, SUPPORTED))
    # Whatever the web server.
    assert platform_problem(system, "nginx", "well_known_webserver") == platform_problem(system)


def test_missing_facts_are_shown_as_unknown():
    assert platform_problem({}).startswith("Unsupported system: unknown unknown (release unknown, os_family unknown). ")


def test_facts_of_the_host_are_shown_printable_and_short():
    message = platform_problem(facts("Evil\n[ERROR] injected\x1b[31m", "9" * 100, "x"))
    assert message.startswith("Unsupported system: Evil?[ERROR] injected?[31m %s... (release x," % ("9" * 60))
    assert "\n" not in message and "\x1b" not in message


def test_facts_that_are_not_a_dictionary_are_an_error_message_not_a_traceback():
    assert platform_problem("Debian") == "platform_problem: ansible_facts must be a dictionary, got str."


def test_caddy_on_ubuntu_2204_names_the_variable_the_platform_and_the_reason():
    assert platform_problem(facts("Ubuntu", "22.04", "jammy"), "caddy", "reverse_proxy_webserver") == (
        "reverse_proxy_webserver caddy cannot be used on Ubuntu 22.04 (jammy): Ubuntu 22.04 has no caddy package "
        "in its archive. Choose another web server on this host; caddy is supported on Debian 12 (bookworm), "
        "Debian 13 (trixie), Ubuntu 24.04 (noble) and Ubuntu 26.04 (resolute).")


def test_caddy_on_ubuntu_2204_without_a_variable_name():
    assert platform_problem(facts("Ubuntu", "22.04", "jammy"), "caddy").startswith("caddy cannot be used on Ubuntu 22.04 (jammy): ")


@pytest.mark.parametrize("web_server", ["nginx", "apache", "haproxy", None])
def test_other_web_servers_run_on_ubuntu_2204(web_server):
    assert platform_problem(facts("Ubuntu", "22.04", "jammy"), web_server, "well_known_webserver") == ""


@pytest.mark.parametrize("system", [facts("Debian", "12.11", "bookworm"), facts("Debian", "13.2", "trixie"),
                                    facts("Ubuntu", "24.04", "noble"), facts("Ubuntu", "26.04", "resolute")],
                         ids=["debian-12", "debian-13", "ubuntu-24.04", "ubuntu-26.04"])
def test_caddy_runs_on_every_other_platform(system):
    assert platform_problem(system, "caddy", "well_known_webserver") == ""


def test_find_platform_returns_the_platform_of_the_facts():
    assert platform_name(find_platform(facts("Debian", "13.2", "trixie"))) == "Debian 13 (trixie)"
    assert find_platform(facts("Debian", "11.11", "bullseye")) is None
