# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Role homeserver.delegation.synapse run by ansible-playbook on localhost with one bad value at a time.

Every value is refused before the first change: the run fails with a message naming the
variable, and neither homeserver.yaml nor the configuration directory changes. The role's
checks run before it touches Synapse, so no Synapse is needed here; molecule/synapse runs the
same kind of refusals on a host with a running Synapse.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from ansible.release import __version__ as _core_version

REPO = pathlib.Path(__file__).resolve().parents[3]
GENERATED = REPO / "tests" / "unit" / "data" / "homeserver.yaml"
ANSIBLE_PLAYBOOK = pathlib.Path(sys.executable).with_name("ansible-playbook")
CORE_VERSION = tuple(int(part) for part in _core_version.split(".")[:2])
# Written into the playbook as YAML's .nan and .inf.
YAML_NAN = "@yaml-nan@"
YAML_INF = "@yaml-inf@"


@pytest.fixture(name="etc")
def fixture_etc(tmp_path):
    etc = tmp_path / "etc" / "matrix-synapse"
    (etc / "conf.d").mkdir(parents=True)
    shutil.copyfile(GENERATED, etc / "homeserver.yaml")
    return etc


def snapshot(directory):
    """Names and contents of everything under ``directory``."""
    return sorted(
        (str(path.relative_to(directory)), path.read_bytes() if path.is_file() else None)
        for path in directory.rglob("*")
    )


def run_role(tmp_path, etc, role_vars):
    """Run the role with safe defaults for this host, overridden by ``role_vars``; return (code, output)."""
    base = {
        "synapse_config_path": str(etc / "homeserver.yaml"),
        "synapse_config_dropin_dir": str(etc / "conf.d"),
        # Nothing on this host may be installed, restarted or fetched.
        "synapse_python_interpreter": sys.executable,
        "synapse_install_pyyaml": False,
        "synapse_service": "homeserver-delegation-test-no-such-unit",
        "synapse_verify_well_known": False,
    }
    base.update(role_vars)
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Run the role",
                            "ansible.builtin.include_role": {"name": "homeserver.delegation.synapse"},
                            "vars": base,
                        }
                    ],
                }
            ]
        )
        # YAML's own floats, which JSON cannot write: the playbook is read as YAML.
        .replace('"%s"' % YAML_NAN, ".nan")
        .replace('"%s"' % YAML_INF, ".inf"),
        encoding="utf-8",
    )
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".tmp" / "collections"))
    env.update(
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    process = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(playbook)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return process.returncode, process.stdout + process.stderr


# (id, variable the message must name, role variables)
BAD_INPUTS = [
    ("dropin-trailing-newline", "synapse_config_dropin", {"synapse_config_dropin": "x.yaml\n"}),
    ("dropin-with-directory", "synapse_config_dropin", {"synapse_config_dropin": "../x.yaml"}),
    ("dropin-not-yaml", "synapse_config_dropin", {"synapse_config_dropin": "50-well-known.yml"}),
    ("dropin-with-space", "synapse_config_dropin", {"synapse_config_dropin": "well known.yaml"}),
    ("dropin-hidden", "synapse_config_dropin", {"synapse_config_dropin": ".x.yaml"}),
    ("baseurl-trailing-newline", "synapse_public_baseurl", {"synapse_public_baseurl": "https://matrix.example.test/\n"}),
    ("baseurl-http", "synapse_public_baseurl", {"synapse_public_baseurl": "http://matrix.example.test/"}),
    ("baseurl-user-password", "synapse_public_baseurl", {"synapse_public_baseurl": "https://user:pass@matrix.example.test/"}),
    ("baseurl-space", "synapse_public_baseurl", {"synapse_public_baseurl": "https://matrix.example.test/a b"}),
    ("baseurl-query", "synapse_public_baseurl", {"synapse_public_baseurl": "https://matrix.example.test/?x=1"}),
    ("config-path-relative", "synapse_config_path", {"synapse_config_path": "homeserver.yaml"}),
    ("config-path-trailing-newline", "synapse_config_path", {"synapse_config_path": "/etc/matrix-synapse/homeserver.yaml\n"}),
    ("dropin-dir-tab", "synapse_config_dropin_dir", {"synapse_config_dropin_dir": "/etc/matrix-synapse/conf.d\t"}),
    ("owner-trailing-newline", "synapse_config_dropin_owner", {"synapse_config_dropin_owner": "root\n"}),
    ("group-with-space", "synapse_config_dropin_group", {"synapse_config_dropin_group": "matrix synapse"}),
    ("mode-symbolic-with-newline", "synapse_config_dropin_mode", {"synapse_config_dropin_mode": "0644\n"}),
    ("interpreter-with-space", "synapse_python_interpreter", {"synapse_python_interpreter": "/usr/bin/python3 -c x"}),
    ("service-trailing-newline", "synapse_service", {"synapse_service": "matrix-synapse\n"}),
    ("health-url-trailing-newline", "synapse_health_url", {"synapse_health_url": "http://127.0.0.1:8008/health\n"}),
    ("server-url-not-http", "synapse_well_known_server_url", {"synapse_well_known_server_url": "file:///etc/passwd"}),
    ("client-url-fragment", "synapse_well_known_client_url", {"synapse_well_known_client_url": "http://127.0.0.1:8008/x#y"}),
    ("server-name-trailing-newline", "synapse_server_name", {"synapse_server_name": "example.test\n"}),
    ("client-key-trailing-newline", "synapse_extra_well_known_client_content",
     {"synapse_extra_well_known_client_content": {"org.example.support\n": "https://example.test/"}}),
    # YAML's .inf and .nan reach the role as floats; JSON cannot carry them.
    ("client-content-infinity", "synapse_extra_well_known_client_content",
     {"synapse_extra_well_known_client_content": {"org.example.limit": YAML_INF}}),
    ("client-content-nan-nested", "synapse_extra_well_known_client_content",
     {"synapse_extra_well_known_client_content": {"org.example.x": {"ratio": [YAML_NAN]}}}),
    ("client-key-m-homeserver", "synapse_extra_well_known_client_content",
     {"synapse_extra_well_known_client_content": {"m.homeserver": {"base_url": "https://x.test/"}}}),
]


@pytest.mark.parametrize("variable, role_vars", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_value_is_refused_before_any_change(tmp_path, etc, variable, role_vars):
    before = snapshot(etc)
    code, output = run_role(tmp_path, etc, role_vars)
    assert code != 0, output
    if CORE_VERSION >= (2, 19):
        errors = [line for line in output.splitlines() if line.startswith("[ERROR]")]
        assert errors, output
        # The check's own message, naming the variable (an earlier one is the server name filter's,
        # caught and reported again by the role).
        assert errors[-1].startswith("[ERROR]: Task failed: Action failed: "), output
    else:
        # ansible-core 2.16 to 2.18 print no [ERROR] line: the failed task's result holds the message.
        # (An item label may hold a newline, so the result is found after the last "=> ".)
        start = max(output.rfind("\nfatal: ["), output.rfind("\nfailed: ["))
        assert start >= 0 and " => " in output[start:], output
        errors = [json.loads(output[start:].split(" => ", 1)[1].split("\n", 1)[0])["msg"]]
    assert variable in errors[-1], output
    assert "Traceback" not in output
    assert snapshot(etc) == before


def test_good_values_pass_the_checks_and_edit_the_file(tmp_path, etc):
    code, output = run_role(
        tmp_path,
        etc,
        {
            "synapse_public_baseurl": "https://matrix.example.test:8443/base/",
            "synapse_server_name": "example.test",
            "synapse_extra_well_known_client_content": {"org.example.support": "https://example.test/support"},
        },
    )
    # The checks and the edit passed; restarting Synapse cannot work on this host.
    assert "RUNNING HANDLER [homeserver.delegation.synapse : Restart Synapse]" in output, output
    text = (etc / "homeserver.yaml").read_text(encoding="utf-8")
    assert "public_baseurl: https://matrix.example.test:8443/base/\n" in text
    assert "  org.example.support: https://example.test/support\n" in text
    del code


def test_good_dropin_name_is_written(tmp_path, etc):
    code, output = run_role(
        tmp_path,
        etc,
        {
            "synapse_config_dropin": "50-well-known.yaml",
            "synapse_config_dropin_owner": str(os.getuid()),
            "synapse_config_dropin_group": str(os.getgid()),
        },
    )
    assert (etc / "conf.d" / "50-well-known.yaml").is_file(), output
    assert sorted(path.name for path in (etc / "conf.d").iterdir()) == ["50-well-known.yaml"]
    del code
