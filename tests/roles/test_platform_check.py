# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The roles, run by ansible-playbook on localhost, on the systems their facts name.

No container: each run injects the facts of one system (distribution, version, release,
os_family) with a test module that returns them as ``ansible_facts``, as the setup module does;
the roles gather facts only when one they read is missing, so they read the injected ones (a
refusal naming RedHat on this Debian machine shows they did). Each run has one inventory host
per role, all of them this machine, and runs once as is and once with --check.

Every role gets inputs that would stop it at a later check anyway (a certificate that does not
exist, a bad drop-in name), so a broken platform check cannot install or change anything here:
it would fail with the wrong message instead.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent / "platform_check"
ANSIBLE_PLAYBOOK = pathlib.Path(sys.executable).with_name("ansible-playbook")
GENERATED = REPO / "tests" / "unit" / "data" / "homeserver.yaml"

# What the README and galaxy_info promise: the refusal lists exactly these.
SUPPORTED_NAMES = ["Debian 12 (bookworm)", "Debian 13 (trixie)", "Ubuntu 22.04 (jammy)",
                   "Ubuntu 24.04 (noble)", "Ubuntu 26.04 (resolute)"]


def _facts(distribution, version, release, os_family):
    return {"distribution": distribution, "distribution_version": version, "distribution_release": release,
            "distribution_major_version": version.split(".")[0], "os_family": os_family}


# The facts ansible-core's setup module reports on each system (the supported ones: as in the
# platform images of docs/molecule.md).
SYSTEMS = {
    "redhat9": _facts("RedHat", "9.4", "Plow", "RedHat"),
    "alpine320": _facts("Alpine", "3.20.3", "NA", "Alpine"),
    "arch": _facts("Archlinux", "rolling", "n/a", "Archlinux"),
    "debian11": _facts("Debian", "11.11", "bullseye", "Debian"),
    "ubuntu2004": _facts("Ubuntu", "20.04", "focal", "Debian"),
    "debian12": _facts("Debian", "12.15", "bookworm", "Debian"),
    "ubuntu2204": _facts("Ubuntu", "22.04", "jammy", "Debian"),
    "ubuntu2404": _facts("Ubuntu", "24.04", "noble", "Debian"),
}
ROLES = ("well_known", "reverse_proxy", "synapse")
MODES = ("run", "check")
PLATFORM_CHECK = {
    "well_known": "Refuse a system or a web server the collection does not support here",
    "reverse_proxy": "Refuse a system or a web server the collection does not support here",
    "synapse": "Refuse a system the collection does not support",
}
# Tasks that run on the controller alone: the only ones that may run before the check (the
# gathering of facts before it is skipped, the facts being there).
CONTROLLER_ACTIONS = {"validate_argument_spec", "include_role"}


def role_vars(role, root, web_server):
    """Valid inputs but one that a later check refuses: nothing on this machine may change."""
    missing = str(root / "no-such-dir")
    if role == "well_known":
        return {"well_known_server_name": "example.test", "well_known_delegated_server": "matrix.example.test:443",
                "well_known_webserver": web_server, "well_known_mode": "site",
                "well_known_tls_certificate": missing + "/cert.pem", "well_known_tls_certificate_key": missing + "/key.pem"}
    if role == "reverse_proxy":
        return {"reverse_proxy_server_name": "matrix.example.test", "reverse_proxy_webserver": web_server,
                "reverse_proxy_tls_certificate": missing + "/cert.pem",
                "reverse_proxy_tls_certificate_key": missing + "/key.pem"}
    etc = root / "etc" / "matrix-synapse"
    return {"synapse_config_path": str(etc / "homeserver.yaml"), "synapse_config_dropin_dir": str(etc / "conf.d"),
            "synapse_python_interpreter": sys.executable, "synapse_install_pyyaml": False,
            "synapse_service": "homeserver-delegation-test-no-such-unit", "synapse_verify_well_known": False,
            # Synapse reads only *.yaml: refused by the role's input checks.
            "synapse_config_dropin": "50-well-known.yml"}


def snapshot(directory):
    """Names, modes and contents of everything under ``directory``."""
    return sorted((str(path.relative_to(directory)), path.stat().st_mode, path.read_bytes() if path.is_file() else None)
                  for path in directory.rglob("*"))


def run_roles(tmp_path, facts, web_server, mode):
    """Run every role on this machine with ``facts`` injected; return (records, output, root snapshots)."""
    root = tmp_path / "root"
    etc = root / "etc" / "matrix-synapse"
    (etc / "conf.d").mkdir(parents=True)
    shutil.copyfile(GENERATED, etc / "homeserver.yaml")
    before = snapshot(root)
    hosts = {}
    for role in ROLES:
        hosts[role] = dict(role_vars(role, root, web_server), test_role=role)
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "test_facts": facts}}}),
        encoding="utf-8")
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(json.dumps([{
        "name": "Run a role on an injected system",
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {"name": "Inject the facts of the system", "inject_facts": {"facts": "{{ test_facts }}"}},
            {"name": "Run the role", "ansible.builtin.include_role": {"name": "homeserver.delegation.{{ test_role }}"}},
        ],
    }]), encoding="utf-8")
    records = tmp_path / "records.jsonl"
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".tmp" / "collections"))
    env.update(
        ANSIBLE_LIBRARY=str(HERE / "library"),
        ANSIBLE_CALLBACK_PLUGINS=str(HERE / "callback_plugins"),
        ANSIBLE_CALLBACKS_ENABLED="record_results",
        RECORD_RESULTS_PATH=str(records),
        ANSIBLE_FORKS="6",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="false",
    )
    command = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(playbook)] + (["--check"] if mode == "check" else [])
    process = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=600)
    output = process.stdout + process.stderr
    assert records.exists(), output
    lines = [json.loads(line) for line in records.read_text(encoding="utf-8").splitlines()]
    return lines, output, before, snapshot(root)


def role_records(records, host):
    """The results of the role's tasks (and the web-server layer's) on one host, in order."""
    return [record for record in records if record["host"] == host and record["role"] is not None]


def refusal(records, host, task, output):
    """The one failure of a host, asserted to be ``task``, the first task that ran on the host and changed nothing."""
    ran = [record for record in role_records(records, host) if record["status"] != "skipped"]
    failed = [record for record in ran if record["status"] == "failed"]
    # The check is the first and only task that fails, and the last that runs.
    assert failed and failed[0]["task"] == task, (host, failed, output)
    assert ran[-1] == failed[0], (host, ran)
    # Before it, only tasks that do not touch the host; nothing changed.
    assert {record["action"].rsplit(".", 1)[-1] for record in ran[:-1]} <= CONTROLLER_ACTIONS, (host, ran)
    assert not [record for record in records if record["host"] == host and record["changed"]], (host, output)
    # The facts were not gathered again over the injected ones.
    gathered = [record for record in role_records(records, host) if record["action"].endswith("setup")]
    assert gathered and all(record["status"] == "skipped" for record in gathered), (host, gathered)
    return failed[0]["msg"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("system", ["redhat9", "alpine320", "arch", "debian11", "ubuntu2004"])
def test_unsupported_system_is_refused_first_and_nothing_changes(tmp_path, system, mode):
    facts = SYSTEMS[system]
    records, output, before, after = run_roles(tmp_path, facts, "nginx", mode)
    assert "Traceback" not in output
    for role in ROLES:
        message = refusal(records, role, PLATFORM_CHECK[role], output)
        assert message.startswith("Unsupported system: %s %s (release %s, os_family %s)." % (
            facts["distribution"], facts["distribution_version"], facts["distribution_release"], facts["os_family"])), message
        assert ", ".join(SUPPORTED_NAMES[:-1]) + " and " + SUPPORTED_NAMES[-1] + " only" in message, message
    assert after == before


@pytest.mark.parametrize("mode", MODES)
def test_caddy_on_ubuntu_2204_is_refused_naming_the_platform_and_the_web_server(tmp_path, mode):
    records, output, before, after = run_roles(tmp_path, SYSTEMS["ubuntu2204"], "caddy", mode)
    for role in ("well_known", "reverse_proxy"):
        assert refusal(records, role, PLATFORM_CHECK[role], output) == (
            "%s_webserver caddy cannot be used on Ubuntu 22.04 (jammy): Ubuntu 22.04 has no caddy package in "
            "its archive. Choose another web server on this host; caddy is supported on Debian 12 (bookworm), "
            "Debian 13 (trixie), Ubuntu 24.04 (noble) and Ubuntu 26.04 (resolute)." % role)
    # The synapse role uses no web server: Ubuntu 22.04 passes its check.
    synapse = role_records(records, "synapse")
    assert [record["status"] for record in synapse if record["task"] == PLATFORM_CHECK["synapse"]] == ["ok"], output
    assert after == before


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("system, web_server", [("debian12", "nginx"), ("ubuntu2404", "caddy"), ("ubuntu2204", "nginx")])
def test_supported_system_passes_the_check(tmp_path, system, web_server, mode):
    records, output, before, after = run_roles(tmp_path, SYSTEMS[system], web_server, mode)
    for role in ROLES:
        ran = role_records(records, role)
        assert [record["status"] for record in ran if record["task"] == PLATFORM_CHECK[role]] == ["ok"], (role, output)
        # It goes on to the later check its inputs fail (nothing on this machine may change).
        failed = [record for record in ran if record["status"] == "failed"]
        assert len(failed) == 1, (role, output)
        messages = " ".join([failed[0]["msg"]] + failed[0]["item_msgs"])
        assert "Unsupported system" not in messages and "cannot be used on" not in messages
        expected = "synapse_config_dropin" if role == "synapse" else "%s_tls_certificate: no such file" % role
        assert expected in messages, (role, failed[0])
        assert not [record for record in records if record["host"] == role and record["changed"]], (role, output)
    assert after == before
