# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The web servers' data of a platform: the OS family's file with the distribution's and the release's differences merged over it.

roles/webserver/tasks/load.yml reads vars/<os family>.yml, then vars/<distribution>.yml and
vars/<distribution>-<major version>.yml when they exist, each merged over the one before. The
shape of the difference files is checked here on the collection's own files; the merge runs in
ansible-playbook on this machine, in a copy of the role with difference files written by the
test, the host's distribution and release given by a module that returns them as facts (no
change to the machine: the play runs load.yml and prints what it loaded).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
VARS = ROOT / "roles/webserver/vars"
ANSIBLE_PLAYBOOK = pathlib.Path(sys.executable).with_name("ansible-playbook")
FAMILY_KEY = "__webserver_servers"
DIFFERENCES_KEY = "__webserver_platform_servers"


def unknown_keys(family, differences, where=""):
    """The keys of ``differences`` (nested dicts) that ``family`` does not have, as dotted paths."""
    found = []
    for key, value in differences.items():
        path = where + str(key)
        if key not in family:
            found.append(path)
        elif isinstance(value, dict):
            if isinstance(family[key], dict):
                found.extend(unknown_keys(family[key], value, path + "."))
            else:
                found.append(path + " (a dict where the family's value is not)")
    return found


def difference_files(vars_dir):
    """{file name: data} of the files that hold a platform's differences."""
    result = {}
    for path in sorted(vars_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and DIFFERENCES_KEY in data:
            result[path.name] = data
    return result


def problems(vars_dir, family_file="Debian.yml"):
    family = yaml.safe_load((vars_dir / family_file).read_text(encoding="utf-8"))[FAMILY_KEY]
    found = []
    for name, data in difference_files(vars_dir).items():
        if FAMILY_KEY in data:
            found.append("%s: holds %s; a platform file holds only %s" % (name, FAMILY_KEY, DIFFERENCES_KEY))
        found.extend("%s: %s is not a key of %s in %s" % (name, key, FAMILY_KEY, family_file)
                     for key in unknown_keys(family, data[DIFFERENCES_KEY] or {}))
    return found


def test_the_collections_platform_files_name_only_known_servers_and_keys():
    assert problems(VARS) == []


def test_a_misspelt_key_in_a_platform_file_is_reported(tmp_path):
    shutil.copytree(VARS, tmp_path / "vars")
    (tmp_path / "vars/Ubuntu-22.yml").write_text(
        "---\n%s:\n  haproxy:\n    shared_frontend:\n      frontend: /x\n  lighttpd:\n    package: lighttpd\n" % DIFFERENCES_KEY,
        encoding="utf-8")
    assert problems(tmp_path / "vars") == [
        "Ubuntu-22.yml: haproxy.shared_frontend is not a key of __webserver_servers in Debian.yml",
        "Ubuntu-22.yml: lighttpd is not a key of __webserver_servers in Debian.yml",
    ]


FAKE_FACTS_MODULE = '''#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule

module = AnsibleModule(argument_spec={"facts": {"type": "dict", "required": True}})
module.exit_json(changed=False, ansible_facts=module.params["facts"])
'''


@pytest.fixture(name="collection")
def fixture_collection(tmp_path):
    """A collection holding a copy of the webserver role; returns its vars directory."""
    role = tmp_path / "collections/ansible_collections/homeserver/delegation/roles/webserver"
    shutil.copytree(ROOT / "roles/webserver", role)
    shutil.copytree(ROOT / "meta", role.parents[1] / "meta")
    (tmp_path / "library").mkdir()
    (tmp_path / "library/fake_platform_facts.py").write_text(FAKE_FACTS_MODULE, encoding="utf-8")
    return role / "vars"


def write_differences(vars_dir, name, servers):
    (vars_dir / name).write_text(yaml.safe_dump({DIFFERENCES_KEY: servers}), encoding="utf-8")


def load_for(tmp_path, os_family, distribution, major):
    """Run load.yml for a host of that platform; return the __webserver_servers it loaded."""
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {"name": "Say which platform the host is", "fake_platform_facts": {"facts": {
                "os_family": os_family, "distribution": distribution, "distribution_major_version": major}}},
            {"name": "Load the web servers' data", "ansible.builtin.include_role": {
                "name": "homeserver.delegation.webserver", "tasks_from": "load", "rolespec_validate": False}},
            {"name": "Write what was loaded", "ansible.builtin.copy": {
                "content": "{{ __webserver_servers | to_json }}", "dest": str(tmp_path / "loaded.json")}},
        ],
    }]), encoding="utf-8")
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"),
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    process = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(playbook)],
                             cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads((tmp_path / "loaded.json").read_text(encoding="utf-8"))


def family_data():
    return yaml.safe_load((VARS / "Debian.yml").read_text(encoding="utf-8"))[FAMILY_KEY]


def test_ubuntu_22_gets_the_release_file_over_the_distribution_file_over_the_family(tmp_path, collection):
    write_differences(collection, "Ubuntu.yml", {
        "nginx": {"title": "nginx (Ubuntu)", "paths": {"snippet": "/etc/nginx/ubuntu/{id}.conf"}},
        "haproxy": {"config_test": ["haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg"]}})
    write_differences(collection, "Ubuntu-22.yml", {"nginx": {"title": "nginx (Ubuntu 22.04)"}})
    family = family_data()
    loaded = load_for(tmp_path, "Debian", "Ubuntu", "22")
    # The release's value wins over the distribution's, which wins over the family's.
    assert loaded["nginx"]["title"] == "nginx (Ubuntu 22.04)"
    # A key of a nested dict changes alone; its neighbours stay the family's.
    assert loaded["nginx"]["paths"] == dict(family["nginx"]["paths"], snippet="/etc/nginx/ubuntu/{id}.conf")
    # A list is replaced whole.
    assert loaded["haproxy"]["config_test"] == ["haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg"]
    # What no file changes is the family's.
    assert loaded["apache"] == family["apache"]
    assert loaded["caddy"] == family["caddy"]


def test_another_release_gets_the_distribution_file_alone(tmp_path, collection):
    write_differences(collection, "Ubuntu.yml", {"nginx": {"title": "nginx (Ubuntu)"}})
    write_differences(collection, "Ubuntu-22.yml", {"nginx": {"title": "nginx (Ubuntu 22.04)"}})
    loaded = load_for(tmp_path, "Debian", "Ubuntu", "24")
    assert loaded["nginx"]["title"] == "nginx (Ubuntu)"


def test_debian_13_gets_its_release_file_and_the_family_file_is_read_once(tmp_path, collection):
    write_differences(collection, "Debian-13.yml", {"caddy": {"group": "www-data"}})
    write_differences(collection, "Ubuntu.yml", {"caddy": {"group": "ubuntu-only"}})
    family = family_data()
    assert load_for(tmp_path, "Debian", "Debian", "13")["caddy"] == dict(family["caddy"], group="www-data")
    # Debian 12 has no file of its own: the family's data, unchanged.
    assert load_for(tmp_path, "Debian", "Debian", "12") == family
