# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every web server is listed in every place that needs it (docs/development.md, "Adding a web server")."""

from __future__ import annotations

import pathlib
import shutil

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]

# The keys every web server's entry in roles/webserver/vars/<os family>.yml has (the files of a
# distribution or release hold only their differences: test_webserver_platform_data.py).
REQUIRED_KEYS = {"title", "package", "service", "config_test", "config_root", "paths", "directories"}
# The Molecule data of the web scenario that has one entry per web server.
SCENARIO_MAPS = ("webroles_existing", "webroles_well_known_site", "webroles_reverse_proxy_site",
                 "webroles_synapse_well_known_files", "webroles_broken", "webroles_server_header")


def _load(root, path):
    with (root / path).open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def _choices(root, role, option):
    return set(_load(root, "roles/%s/meta/argument_specs.yml" % role)["argument_specs"]["main"]["options"][option]["choices"])


def _template_servers(root, role, kind):
    """Web servers for which the role has a <server>/<kind>.*.j2 template."""
    return {path.parent.name for path in (root / "roles" / role / "templates").glob("*/%s.*.j2" % kind)}


def _family_files(root):
    """[(path, data)] of the web server data files of an OS family (those holding __webserver_servers)."""
    result = []
    for platform in sorted((root / "roles/webserver/vars").glob("*.yml")):
        if platform.name != "main.yml":
            data = _load(root, platform.relative_to(root))
            if "__webserver_servers" in data:
                result.append((platform, data))
    return result


def places(root):
    """{place: set of web servers listed there}."""
    found = {
        "well_known_webserver choices (roles/well_known/meta/argument_specs.yml)": _choices(root, "well_known", "well_known_webserver"),
        "reverse_proxy_webserver choices (roles/reverse_proxy/meta/argument_specs.yml)": _choices(root, "reverse_proxy", "reverse_proxy_webserver"),
        "roles/well_known/templates/<server>/snippet.*.j2": _template_servers(root, "well_known", "snippet"),
        "roles/reverse_proxy/templates/<server>/site.*.j2": _template_servers(root, "reverse_proxy", "site"),
    }
    for platform, data in _family_files(root):
        found["__webserver_servers (roles/webserver/vars/%s)" % platform.name] = set(data["__webserver_servers"])
    found["WEB_SERVER values (molecule/web/variants)"] = _variants(root, "web")
    scenario = _load(root, "molecule/resources/webroles/vars.yml")
    for name in SCENARIO_MAPS:
        found["%s (molecule/resources/webroles/vars.yml)" % name] = set(scenario[name])
    return found


def _gaps(found, message):
    """message % (server, place) for each web server missing from a place where another lists it."""
    every = set().union(*found.values())
    return [message % (server, place) for place, servers in sorted(found.items()) for server in sorted(every - servers)]


def _variants(root, scenario):
    """The WEB_SERVER values of molecule/<scenario>/variants."""
    lines = (root / "molecule" / scenario / "variants").read_text(encoding="utf-8").splitlines()
    return {line.partition("=")[2] for line in lines if line.strip() and not line.lstrip().startswith("#")}


def inconsistencies(root):
    """One message per web server missing from a place where another place lists it."""
    return _gaps(places(root), "%s is not listed in %s")


def acme_places(root):
    """{place: set of web servers with ACME listed there} (docs/development.md: ACME).

    A web server whose ACME client is its own (acme.builtin: Caddy) needs no port-80 template or
    file, but says where it keeps certificates and which journal unit tells why it failed; one
    with certbot needs the port-80 template and file. Each is counted as present in the places
    its kind does not need.
    """
    builtin = set()
    for _platform, data in _family_files(root):
        builtin |= {name for name, server in data["__webserver_servers"].items()
                    if server.get("acme", {}).get("builtin")}
    found = {"roles/webserver/templates/<server>/acme-http.*.j2": builtin | {
        path.parent.name for path in (root / "roles/webserver/templates").glob("*/acme-http.*.j2")}}
    for platform, data in _family_files(root):
        servers = data["__webserver_servers"]
        with_acme = {name for name, server in servers.items() if "acme" in server}
        found["acme entries (roles/webserver/vars/%s)" % platform.name] = with_acme
        found["paths.acme_http (roles/webserver/vars/%s)" % platform.name] = builtin | {
            name for name, server in servers.items() if "acme_http" in server.get("paths", {})}
        found["acme.storage and acme.unit of a builtin client (roles/webserver/vars/%s)" % platform.name] = (
            with_acme - builtin) | {
            name for name in builtin & with_acme if {"storage", "unit"} <= set(servers[name]["acme"])}
    found["WEB_SERVER values (molecule/acme/variants)"] = _variants(root, "acme")
    scenario = _load(root, "molecule/acme/molecule.yml")
    found["acme_lab_servers (molecule/acme/molecule.yml)"] = set(
        scenario["provisioner"]["inventory"]["group_vars"]["all"]["acme_lab_servers"])
    return found


def acme_inconsistencies(root):
    """One message per web server with ACME in one place and missing from another."""
    return _gaps(acme_places(root), "%s has ACME but is not listed in %s")


def missing_keys(root):
    """[(platform file, web server, missing keys)] of the web server data."""
    result = []
    for platform, data in _family_files(root):
        for name, server in data["__webserver_servers"].items():
            missing = REQUIRED_KEYS - set(server)
            if missing:
                result.append((platform.name, name, sorted(missing)))
    return result


@pytest.fixture(name="tree")
def tree_fixture(tmp_path):
    """A copy of the files the places are read from."""
    for path in ("roles/well_known/meta", "roles/reverse_proxy/meta", "roles/well_known/templates",
                 "roles/reverse_proxy/templates", "roles/webserver/vars", "roles/webserver/templates",
                 "molecule/web", "molecule/acme", "molecule/resources/webroles"):
        shutil.copytree(ROOT / path, tmp_path / path)
    return tmp_path


def test_the_collection_lists_every_web_server_everywhere():
    assert inconsistencies(ROOT) == []
    assert len(places(ROOT)["WEB_SERVER values (molecule/web/variants)"]) == 4


def test_the_web_servers_with_acme_are_listed_everywhere_acme_needs():
    assert acme_inconsistencies(ROOT) == []
    assert places_with_acme(ROOT) == {"nginx", "apache", "haproxy", "caddy"}


def places_with_acme(root):
    return set().union(*acme_places(root).values())


def test_a_web_server_with_acme_data_but_no_scenario_run_is_reported(tree):
    variants = tree / "molecule/acme/variants"
    variants.write_text(variants.read_text(encoding="utf-8").replace("WEB_SERVER=apache\n", ""), encoding="utf-8")
    assert acme_inconsistencies(tree) == ["apache has ACME but is not listed in WEB_SERVER values (molecule/acme/variants)"]


def test_an_acme_entry_without_its_port_80_template_is_reported(tree):
    (tree / "roles/webserver/templates/nginx/acme-http.conf.j2").unlink()
    assert acme_inconsistencies(tree) == [
        "nginx has ACME but is not listed in roles/webserver/templates/<server>/acme-http.*.j2"]


def test_a_builtin_acme_client_without_its_storage_is_reported(tree):
    data = tree / "roles/webserver/vars/Debian.yml"
    text = data.read_text(encoding="utf-8")
    assert "      storage: /var/lib/caddy/" in text
    data.write_text(text.replace("      storage: /var/lib/caddy/", "      kept_in: /var/lib/caddy/"), encoding="utf-8")
    assert acme_inconsistencies(tree) == [
        "caddy has ACME but is not listed in acme.storage and acme.unit of a builtin client (roles/webserver/vars/Debian.yml)"]


def test_the_web_server_data_has_every_key():
    assert [entry[0].name for entry in _family_files(ROOT)] == ["Debian.yml"]
    assert missing_keys(ROOT) == []


def test_a_missing_template_names_the_web_server_and_the_place(tree):
    (tree / "roles/reverse_proxy/templates/caddy/site.caddy.j2").unlink()
    assert inconsistencies(tree) == ["caddy is not listed in roles/reverse_proxy/templates/<server>/site.*.j2"]


def test_a_web_server_only_in_the_scenario_list_is_reported_everywhere_else(tree):
    with (tree / "molecule/web/variants").open("a", encoding="utf-8") as stream:
        stream.write("WEB_SERVER=lighttpd\n")
    messages = inconsistencies(tree)
    assert "lighttpd is not listed in __webserver_servers (roles/webserver/vars/Debian.yml)" in messages
    assert "lighttpd is not listed in well_known_webserver choices (roles/well_known/meta/argument_specs.yml)" in messages
    assert "lighttpd is not listed in webroles_existing (molecule/resources/webroles/vars.yml)" in messages
    assert not [message for message in messages if not message.startswith("lighttpd ")]


def test_a_choice_without_data_is_reported(tree):
    spec = tree / "roles/well_known/meta/argument_specs.yml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("[nginx, apache, haproxy, caddy]", "[nginx, apache, haproxy, caddy, lighttpd]", 1),
                    encoding="utf-8")
    messages = inconsistencies(tree)
    assert "lighttpd is not listed in __webserver_servers (roles/webserver/vars/Debian.yml)" in messages
    assert "lighttpd is not listed in reverse_proxy_webserver choices (roles/reverse_proxy/meta/argument_specs.yml)" in messages


def test_a_web_server_entry_without_a_package_is_reported(tree):
    data_file = tree / "roles/webserver/vars/Debian.yml"
    data = yaml.safe_load(data_file.read_text(encoding="utf-8"))
    del data["__webserver_servers"]["apache"]["package"]
    data_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert missing_keys(tree) == [("Debian.yml", "apache", ["package"])]
