# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""galaxy_info.platforms and the READMEs declare exactly the platforms the roles check for."""

from __future__ import annotations

import pathlib
import re
import shutil

import pytest
import yaml

from ansible_collections.homeserver.delegation.plugins.module_utils._platforms import PLATFORMS, platform_name

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLES = ("well_known", "reverse_proxy", "synapse", "webserver")
# The documents whose "Platforms" section lists the platforms (the internal webserver role's
# README points to the roles').
READMES = ("README.md", "roles/well_known/README.md", "roles/reverse_proxy/README.md", "roles/synapse/README.md")
NAMED = re.compile(r"\b(Debian|Ubuntu) ([0-9]+(?:\.[0-9]+)?) \(([a-z]+)\)")


def galaxy_platforms(root, role):
    with (root / "roles" / role / "meta" / "main.yml").open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)["galaxy_info"]["platforms"]


def expected_galaxy_platforms():
    found = {}
    for platform in PLATFORMS:
        found.setdefault(platform.distribution, []).append(platform.release)
    return [{"name": name, "versions": versions} for name, versions in found.items()]


def platforms_section(root, readme):
    """The platforms named, as "Debian 12 (bookworm)", in the section headed Platforms."""
    text = (root / readme).read_text(encoding="utf-8")
    heading = re.search(r"^(#+) Platforms\n", text, re.MULTILINE)
    assert heading, "%s has no Platforms section" % readme
    # Up to the next heading of the same or a higher level.
    body = re.split(r"^#{1,%d} " % len(heading.group(1)), text[heading.end():], maxsplit=1, flags=re.MULTILINE)[0]
    # The example of a refusal quotes the list: the table is what declares it.
    table = "\n".join(line for line in body.splitlines() if line.startswith("| "))
    return sorted({"%s %s (%s)" % named for named in NAMED.findall(table)})


@pytest.mark.parametrize("role", ROLES)
def test_galaxy_info_lists_exactly_the_supported_platforms(role):
    assert galaxy_platforms(ROOT, role) == expected_galaxy_platforms()


@pytest.mark.parametrize("readme", READMES)
def test_readme_lists_exactly_the_supported_platforms(readme):
    assert platforms_section(ROOT, readme) == sorted(platform_name(platform) for platform in PLATFORMS)


def test_a_platform_missing_from_a_readme_table_is_reported(tmp_path):
    shutil.copytree(ROOT / "roles", tmp_path / "roles")
    readme = tmp_path / "roles/synapse/README.md"
    text = readme.read_text(encoding="utf-8")
    readme.write_text(re.sub(r"^\| Ubuntu 26\.04 \(resolute\) .*\n", "", text, flags=re.MULTILINE), encoding="utf-8")
    assert "Ubuntu 26.04 (resolute)" not in platforms_section(tmp_path, "roles/synapse/README.md")
    assert len(platforms_section(tmp_path, "roles/synapse/README.md")) == len(PLATFORMS) - 1


def test_an_older_release_in_galaxy_info_is_reported(tmp_path):
    shutil.copytree(ROOT / "roles", tmp_path / "roles")
    meta = tmp_path / "roles/well_known/meta/main.yml"
    meta.write_text(meta.read_text(encoding="utf-8").replace("        - bookworm\n", "        - bullseye\n        - bookworm\n"),
                    encoding="utf-8")
    assert galaxy_platforms(tmp_path, "well_known") != expected_galaxy_platforms()
