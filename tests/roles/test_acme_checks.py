# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ACME checks of roles/webserver/tasks/site.yml, run by ansible-playbook on localhost.

Each run is in check mode and every case is refused by a check before present.yml: nothing on
this machine can change (the recap must show no change either).
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PLAY = pathlib.Path(__file__).resolve().parent / "acme_checks" / "play.yml"
ROLE_PLAY = pathlib.Path(__file__).resolve().parent / "acme_checks" / "role_play.yml"
ANSIBLE_PLAYBOOK = pathlib.Path(sys.executable).with_name("ansible-playbook")
LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"

SITE = {
    "role": "reverse_proxy", "id": "matrix-reverse-proxy-matrix.example.test", "name": "matrix.example.test",
    "server": "nginx", "owner": "reverse-proxy", "server_name_variable": "reverse_proxy_server_name",
    "server_variable": "reverse_proxy_webserver", "kinds": ["site_link", "site", "combined_pem", "site_record", "acme_http"],
    "write": ["site"], "remove": [], "tls": True,
    "tls_variables": {"reverse_proxy_tls_certificate": "", "reverse_proxy_tls_certificate_key": ""},
    "tls_required_when": "", "modules": [], "included_by_others": False, "directories": [], "snapshot": [],
    "contents": [], "absent_files": [], "purge": [], "routes": [], "port_variables": {"443": "reverse_proxy_https_port"},
    "hints": {}, "acme": True, "acme_variable": "reverse_proxy_tls_acme", "acme_names": ["matrix.example.test"],
    "https_port": 443,
}
DEFAULTS = {"acme_directory_url": LETSENCRYPT, "acme_email": "", "acme_ca_bundle": "", "acme_staging": False,
            "__webserver_acme_letsencrypt": LETSENCRYPT}


def _site(**changes):
    site = copy.deepcopy(SITE)
    site.update(changes)
    return site


CASES = {
    "paths-and-acme": (
        {"__webserver_site": _site(tls_variables={"reverse_proxy_tls_certificate": "/etc/ssl/c.pem",
                                                  "reverse_proxy_tls_certificate_key": "/etc/ssl/k.pem"})},
        "reverse_proxy_tls_acme is true and reverse_proxy_tls_certificate and reverse_proxy_tls_certificate_key are set"),
    # Every web server of the collection has ACME now: the rule is shown with data (as load.yml
    # would read it for a platform) whose HAProxy entry has none.
    "no-acme-data": (
        {"__webserver_site": _site(server="haproxy"),
         "__webserver_servers": {"haproxy": {"title": "HAProxy", "paths": {}}}},
        "reverse_proxy_tls_acme is not supported with HAProxy yet; give certificate paths"),
    "ip-name": (
        {"__webserver_site": _site(name="192.0.2.1", acme_names=["192.0.2.1"])},
        "reverse_proxy_server_name 192.0.2.1 is an IP address"),
    "email": (
        {"acme_email": "admin@192.0.2.1"},
        'acme_email "admin@192.0.2.1" has an IP address as its domain'),
    # Caddy's configuration would replace {$HOME} with its environment, even between quotes.
    "email-brace": (
        {"__webserver_site": _site(server="caddy"), "acme_email": "ad{$HOME}min@example.test"},
        "acme_email \"ad{$HOME}min@example.test\" contains '{' before the '@'"),
    "directory": (
        {"acme_directory_url": "http://acme.example.test/dir"},
        'acme_directory_url "http://acme.example.test/dir"'),
    "ca-bundle-path": (
        {"acme_ca_bundle": "relative/ca.pem"},
        "acme_ca_bundle \"relative/ca.pem\" must be an absolute path"),
    "staging-private": (
        {"acme_staging": True, "acme_directory_url": "https://acme.example.test/dir"},
        "acme_staging is true and acme_directory_url is https://acme.example.test/dir"),
}


def _run(tmp_path, extra, check=True, values=None, play=PLAY):
    if values is None:
        values = dict(DEFAULTS, __webserver_site=SITE, ansible_python_interpreter=sys.executable)
    values.update(extra)
    (tmp_path / "vars.json").write_text(json.dumps(values), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".tmp" / "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")
    argv = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", "-e", "@" + str(tmp_path / "vars.json"), str(play)]
    if check:
        argv.insert(1, "--check")
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)


def _messages(result):
    """ansible-playbook's output with the messages as a user reads them: ansible-core before 2.19
    prints a failure as JSON (quotes escaped), later ones as YAML (folded lines)."""
    return " ".join(result.stdout.replace('\\"', '"').split())


def _assert_refused(result, message):
    """The run failed with the message, before any change and before the site's setup."""
    assert result.returncode != 0, result.stdout
    assert message in _messages(result), result.stdout
    assert "changed=0" in result.stdout
    assert "Set up the site on its web server" not in result.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_acme_check_refuses(tmp_path, case):
    extra, message = CASES[case]
    _assert_refused(_run(tmp_path, extra), message)


def test_well_known_snippet_mode_refuses_acme(tmp_path):
    # The real role: its own rule, checked by the layer before any change.
    values = {"acme_checks_role": "homeserver.delegation.well_known", "well_known_server_name": "example.test",
              "well_known_delegated_server": "matrix.example.test:443", "well_known_mode": "snippet",
              "well_known_tls_acme": True, "ansible_python_interpreter": sys.executable}
    result = _run(tmp_path, {}, values=values, play=ROLE_PLAY)
    assert result.returncode != 0, result.stdout
    assert ("well_known_tls_acme is true but well_known_mode is snippet: the site that includes the snippet "
            "holds the certificate") in _messages(result), result.stdout
    assert "changed=0" in result.stdout


def test_defaults_match_the_argument_specs():
    import yaml

    defaults = yaml.safe_load((REPO / "roles/webserver/defaults/main.yml").read_text(encoding="utf-8"))
    for role in ("well_known", "reverse_proxy"):
        options = yaml.safe_load((REPO / "roles" / role / "meta/argument_specs.yml").read_text(encoding="utf-8"))
        options = options["argument_specs"]["main"]["options"]
        for name in ("acme_directory_url", "acme_email", "acme_ca_bundle", "acme_staging"):
            assert options[name]["default"] == defaults[name], (role, name)


@pytest.mark.parametrize("role", ["well_known", "reverse_proxy"])
def test_acme_is_off_by_default(role):
    import yaml

    defaults = yaml.safe_load((REPO / "roles" / role / "defaults/main.yml").read_text(encoding="utf-8"))
    options = yaml.safe_load((REPO / "roles" / role / "meta/argument_specs.yml").read_text(encoding="utf-8"))
    option = options["argument_specs"]["main"]["options"][role + "_tls_acme"]
    assert defaults[role + "_tls_acme"] is False
    assert option["default"] is False and option["type"] == "bool"


def test_acme_site_passes_the_checks_and_is_predicted(tmp_path):
    # The real role in check mode: every check passes (on every ansible-core: the checks'
    # messages are templates too, which 2.16 to 2.18 parse differently), and the certificate is
    # predicted, never requested. well_known: its check mode stops before any service task,
    # which a host without systemd could not answer.
    values = {"acme_checks_role": "homeserver.delegation.well_known", "well_known_server_name": "matrix.example.test",
              "well_known_delegated_server": "matrix.example.test:443", "well_known_tls_acme": True,
              "acme_email": "admin@example.test", "ansible_python_interpreter": sys.executable}
    result = _run(tmp_path, {}, values=values, play=ROLE_PLAY)
    assert result.returncode == 0, result.stdout
    assert ("obtain a certificate for matrix.example.test from https://acme-v02.api.letsencrypt.org/directory"
            in _messages(result)), result.stdout


def _self_signed(directory, name):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                   .sign(key, hashes.SHA256()))
    certificate_path, key_path = directory / "proxy.pem", directory / "proxy.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return certificate_path, key_path


PROXY = {"acme_checks_role": "homeserver.delegation.reverse_proxy", "reverse_proxy_server_name": "matrix.example.test",
         "reverse_proxy_tls_acme": True, "reverse_proxy_federation_port": 8448}

SRV_CASES = {
    # Remote servers look up SRV records for a DNS name only (certificate paths: the role's rule).
    "ip": ("192.0.2.7", "reverse_proxy_srv_server_name 192.0.2.7 is an IP address: remote servers look up SRV "
                        "records only for a DNS name"),
    # With ACME the layer's rule comes first, and names the variable that holds the address.
    "ip-acme": ("192.0.2.7", "reverse_proxy_tls_acme is true but reverse_proxy_srv_server_name 192.0.2.7 is an IP "
                             "address: the collection obtains ACME certificates for DNS names only"),
    # The same name in other letters: the site answers it already.
    "same-name": ("Matrix.Example.TEST", "reverse_proxy_srv_server_name is reverse_proxy_server_name "
                                         "(matrix.example.test): the site answers that name already"),
    # A name that would end nginx's server_name and start a directive of its own.
    "injection": ("example.test; include /etc/passwd", 'reverse_proxy_srv_server_name "example.test; include /etc/passwd" '
                                                       "contains a space"),
    "port": ("example.test:8448", 'reverse_proxy_srv_server_name "example.test:8448" must be a host name without a port'),
}


@pytest.mark.parametrize("case", sorted(SRV_CASES))
def test_reverse_proxy_refuses_a_bad_srv_server_name(tmp_path, case):
    # The real role, in check mode: refused by the layer's checks before any change.
    name, message = SRV_CASES[case]
    values = dict(PROXY, reverse_proxy_srv_server_name=name, ansible_python_interpreter=sys.executable)
    if case == "ip":
        # Certificate paths instead of ACME: a real pair, as the layer checks them before the rules.
        certificate, key = _self_signed(tmp_path, "matrix.example.test")
        values.update(reverse_proxy_tls_acme=False, reverse_proxy_tls_certificate=str(certificate),
                      reverse_proxy_tls_certificate_key=str(key))
    _assert_refused(_run(tmp_path, {}, values=values, play=ROLE_PLAY), message)


def test_acme_staging_predicts_the_staging_directory(tmp_path):
    # acme_staging with the default directory: the real role in check mode predicts a
    # certificate from Let's Encrypt's staging directory (no ACME server is contacted here).
    values = {"acme_checks_role": "homeserver.delegation.well_known", "well_known_server_name": "matrix.example.test",
              "well_known_delegated_server": "matrix.example.test:443", "well_known_tls_acme": True,
              "acme_staging": True, "ansible_python_interpreter": sys.executable}
    result = _run(tmp_path, {}, values=values, play=ROLE_PLAY)
    assert result.returncode == 0, result.stdout
    assert ("obtain a certificate for matrix.example.test from https://acme-staging-v02.api.letsencrypt.org/directory"
            in _messages(result)), result.stdout
