# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile and careless input for the homeserver.yaml editor.

Every YAML error is reported at its line and column, alias bombs, deep nesting and huge files
are refused before anything walks them, keys follow a strict grammar, symbolic links are
followed, and secrets never reach a diff.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import signal

import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils._synapse_config import (
    DEFAULT_MAX_SIZE,
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    REDACTED,
    SynapseConfigError,
    decode_config,
    edit_config,
    is_secret_key,
    load_config,
    read_config,
    redact_secrets,
    same_value,
    secret_values,
)
from ansible_collections.homeserver.delegation.plugins.module_utils._synapse_config import (  # noqa: I001
    _shown,
)

DATA = pathlib.Path(__file__).parents[2] / "data"
PATH = "/etc/matrix-synapse/homeserver.yaml"


@contextlib.contextmanager
def no_hang(seconds=60):
    """Fail instead of hanging: the unbounded code this guards against ran for minutes."""

    def expire(signum, frame):
        raise AssertionError("still running after %d seconds" % seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def alias_bomb(levels, width=9):
    """``levels`` levels of anchors, each naming the one below ``width`` times (a "billion laughs")."""
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = ["%s: &%s [%s]" % (names[0], names[0], ", ".join(['"lol"'] * width))]
    for level in range(1, levels + 1):
        lines.append(
            "%s: &%s [%s]" % (names[level], names[level], ", ".join(["*" + names[level - 1]] * width))
        )
    return "\n".join(lines) + "\n"


# (id, text, (line, column), words the message must hold). One per kind of error PyYAML raises,
# and the Python errors its constructor lets through.
YAML_ERRORS = [
    # ScannerError
    ("scanner-unterminated-quote", "a: 1\nb: 'open\n", (3, 1), ["unexpected end of stream", "quoted scalar at line 2"]),
    ("scanner-unknown-escape", 'a: "\\q"\n', (1, 6), ["unknown escape character 'q'"]),
    ("scanner-tab-indentation", "a:\n\tb: 1\n", (2, 1), ["'\\t'"]),
    # ParserError
    ("parser-bad-indentation", "a:\n  - 1\n b: 2\n", (3, 2), ["expected <block end>"]),
    ("parser-unclosed-flow", "a: [1, 2\nb: 3\n", (2, 2), ["expected ',' or ']'", "flow sequence at line 1"]),
    # ComposerError
    ("composer-duplicate-anchor", "a: &x 1\nb: &x 2\nc: 3\n", (2, 4), ["duplicate anchor 'x'", "line 1, column 4"]),
    ("composer-undefined-alias", "a: 1\nb: *nowhere\n", (2, 4), ["*nowhere", "no anchor"]),
    # ConstructorError
    ("constructor-unknown-tag", "a: !secret x\n", (1, 4), ["constructor for the tag '!secret'"]),
    ("constructor-unhashable-key", "a:\n  ? [1]\n  : 2\n", (2, 5), ["unhashable key"]),
    ("constructor-bad-binary", "a: !!binary 'abc'\n", (1, 4), ["base64"]),
    # ValueError from SafeConstructor
    ("value-impossible-date", "a: 1\nb: 2001-13-01\n", (2, 4), ["timestamp", "month must be in 1..12"]),
    ("value-int-tag-on-text", "a: !!int twelve\n", (1, 4), ["int", "'twelve'"]),
    ("value-float-tag-on-text", "a: !!float twelve\n", (1, 4), ["float"]),
    # ReaderError
    ("reader-nul-character", "a: 1\nb: x\x00y\n", (2, 5), ["U+0000"]),
    ("reader-control-character", "a: 1\nb: \x07\n", (2, 4), ["U+0007"]),
    # Our own limits, found while composing
    ("recursive-alias", "a: &r\n  - *r\n", (2, 5), ["*r", "recursive"]),
    # The first "[" past MAX_DEPTH open ones; the block case's first "- " past MAX_DEPTH open levels.
    ("flow-nesting-too-deep", "a: " + "[" * 10000 + "]" * 10000 + "\n", (1, 4 + MAX_DEPTH), ["deeper than %d" % MAX_DEPTH]),
    ("block-nesting-too-deep", "a:\n" + "- " * 10000 + "x\n", (2, 2 * MAX_DEPTH + 1), ["deeper than %d" % MAX_DEPTH]),
    ("duplicate-key-in-a-list", "a:\n  - x: 1\n    x: 2\n", (3, 5), ["duplicate key 'x'", "first at line 2"]),
]


@pytest.mark.parametrize("text, position, words", [c[1:] for c in YAML_ERRORS], ids=[c[0] for c in YAML_ERRORS])
def test_yaml_error_is_reported_at_its_line_and_column(text, position, words):
    for attempt in (lambda: edit_config(text, {"serve_server_wellknown": True}), lambda: load_config(text)):
        with pytest.raises(SynapseConfigError) as caught:
            attempt()
        message = caught.value.located(PATH)
        assert message.startswith("%s:%d:%d: " % ((PATH,) + position)), message
        for word in words:
            assert word in message
        # PyYAML's str() quotes the offending line; the message must not (it may hold a secret).
        assert "^" not in message and "<unicode string>" not in message


def test_undecodable_byte_is_reported_at_its_line_and_column():
    with pytest.raises(SynapseConfigError) as caught:
        decode_config("a: 1\nb: café\n".encode("latin-1"))
    assert caught.value.located(PATH) == (
        PATH + ":2:7: not UTF-8 text: byte 0xe9 cannot be decoded (invalid continuation byte)"
    )


def test_utf16_file_is_refused_at_its_first_byte():
    with pytest.raises(SynapseConfigError) as caught:
        decode_config("a: 1\n".encode("utf-16"))
    assert (caught.value.line, caught.value.column) == (1, 1)


def test_alias_bomb_of_eight_levels_is_refused_while_reading():
    text = alias_bomb(8)
    assert len(text) < 450
    with no_hang():
        with pytest.raises(SynapseConfigError) as caught:
            edit_config(text, {"serve_server_wellknown": True})
    assert "more than %d nodes" % MAX_EXPANDED_NODES in str(caught.value)
    assert "alias bomb" in str(caught.value)
    # The first level whose expansion passes the budget: 9 ** 7 > 1,000,000 > 9 ** 6.
    assert caught.value.located(PATH).startswith(PATH + ":7:4: ")


def test_alias_bomb_in_a_nested_value_is_refused_too():
    text = "a:\n  deep:\n" + "".join("    " + line + "\n" for line in alias_bomb(8).splitlines())
    with no_hang():
        with pytest.raises(SynapseConfigError) as caught:
            load_config(text)
    assert "alias bomb" in str(caught.value)


def test_aliases_within_the_budget_are_read_and_edited():
    text = alias_bomb(4)  # 9 ** 5 = 59,049 strings once expanded
    result = edit_config(text, {"serve_server_wellknown": True})
    assert result.text == text + "serve_server_wellknown: true\n"
    # The unchanged check compares the shared values too.
    assert not edit_config(result.text, {"serve_server_wellknown": True}).changed


def test_comparison_visits_shared_values_once():
    # 2 ** 60 leaves once expanded: only a comparison that visits each shared pair once ends.
    left, right = [1], [1]
    for dummy in range(60):
        left, right = [left, left], [right, right]
    with no_hang():
        assert same_value(left, right)
    different = [2]
    for dummy in range(60):
        different = [different, different]
    with no_hang():
        assert not same_value(left, different)


# (id, key): each is refused in settings and in absent, naming the key and the grammar.
BAD_KEYS = [
    ("newline-inside", "serve_server\nwellknown"),
    ("trailing-newline", "serve_server_wellknown\n"),
    ("leading-space", " serve_server_wellknown"),
    ("uppercase", "Serve_server_wellknown"),
    ("dot", "email.smtp_pass"),
    ("dash", "serve-server-wellknown"),
    ("colon-and-value", "a: b"),
    ("comment", "a #b"),
    ("starts-with-digit", "3pid"),
    ("empty", ""),
    ("too-long", "a" * 129),
    ("unicode-letter", "grüße"),
]


@pytest.mark.parametrize("key", [case[1] for case in BAD_KEYS], ids=[case[0] for case in BAD_KEYS])
def test_bad_key_is_refused(key):
    for settings, absent in (({key: True}, []), ({}, [key])):
        with pytest.raises(SynapseConfigError) as caught:
            edit_config("a: 1\n", settings, absent)
        assert repr(key) in str(caught.value)
        assert "lowercase letters, digits and underscores" in str(caught.value)


def test_longest_allowed_key_is_written_and_read_back():
    key = "a" * 128
    result = edit_config("a: 1\n", {key: 1})
    assert load_config(result.text) == {"a": 1, key: 1}


@pytest.mark.parametrize(
    "name",
    [
        "macaroon_secret_key", "registration_shared_secret", "form_secret", "turn_shared_secret",
        "worker_replication_secret", "client_secret", "client_secret_jwt_key", "secret_access_key",
        "password", "bind_password", "turn_password", "smtp_pass", "signing_key", "signing_key_path",
        "recaptcha_private_key", "api_key", "admin_token", "as_token", "dsn", "jwk", "clientSecret",
        "password_config", "registration_shared_secret_path",
    ],
)
def test_secret_key_names(name):
    assert is_secret_key(name)


@pytest.mark.parametrize(
    "name",
    [
        "server_name", "public_baseurl", "serve_server_wellknown", "database", "name", "user",
        "refreshable_access_token_lifetime", "recaptcha_public_key", "trusted_key_servers",
        "key_server_signing_keys_path", "smtp_user", "passthrough_mode", "pid_file", None, 3,
    ],
)
def test_not_secret_key_names(name):
    assert not is_secret_key(name)


def postgres_config():
    """homeserver.yaml generated by Synapse, with the PostgreSQL database block of Synapse's manual."""
    text = (DATA / "homeserver.yaml").read_text(encoding="utf-8")
    sqlite = "database:\n  name: sqlite3\n  args:\n    database: /var/lib/matrix-synapse/homeserver.db\n"
    assert sqlite in text
    return text.replace(
        sqlite,
        "database:\n  name: psycopg2\n  args:\n    user: synapse_user\n    password: Db-Pass.w0rd\n"
        "    dbname: synapse\n    host: db.internal\n    cp_min: 5\n    cp_max: 10\n",
    )


GENERATED_SECRETS = [
    "ZYqJ+qPJMi9UTnhx7Z__biWXOy4x3J5+,&En:WjWiEz#5avZwH",
    "dKw4Haeb,Tej80wqtonCBmky,ejUQp;8~7v::aa;J;cNl;,JRk",
    "1X1c*pZ=lNN9GzXWMnUbEz.asL,gje7-1*x@@pK&Zb^u1&e#DA",
    "Db-Pass.w0rd",
    "db.internal",
]


def test_redacted_generated_config_hides_every_secret_and_keeps_the_rest():
    text = postgres_config()
    redacted = redact_secrets(text)
    for secret in GENERATED_SECRETS:
        assert secret in text
        assert secret not in redacted
    assert "macaroon_secret_key: %s\n" % REDACTED in redacted
    assert "registration_shared_secret: %s\n" % REDACTED in redacted
    assert "form_secret: %s\n" % REDACTED in redacted
    assert "    password: %s\n" % REDACTED in redacted
    assert "signing_key_path: %s\n" % REDACTED in redacted
    # Everything else is as it was: the same lines, in the same order.
    kept = [line for line in text.splitlines() if not any(s in line for s in GENERATED_SECRETS)]
    kept = [line for line in kept if not line.startswith(("signing_key_path:", "    cp_m", "    user", "    dbname"))]
    redacted_lines = redacted.splitlines()
    assert len(redacted_lines) == len(text.splitlines())
    assert [line for line in redacted_lines if line in kept] == kept
    assert 'server_name: "example.test"' in redacted
    assert "  name: psycopg2" in redacted


def test_redacted_old_commented_config_hides_the_secrets_and_commented_ones():
    text = (DATA / "homeserver-1.50.yaml").read_text(encoding="utf-8")
    redacted = redact_secrets(text)
    for secret in ("LmpUPVOsYcXX0*nu*v2@uADp5gHy-CgExf=k*@7_wI1c^FjZIT", "bAhK:FmkRnpi3KFA0dDxFqvah:EOgu2GQ.d#WZxuC5OnBD4vk."):
        assert secret in text and secret not in redacted
    assert '#turn_shared_secret: "YOUR_SHARED_SECRET"' in text
    assert "#turn_shared_secret: %s" % REDACTED in redacted
    assert "  #smtp_pass: %s" % REDACTED in redacted
    # Prose comments and ordinary settings are untouched.
    assert "#serve_server_wellknown: true\n" in redacted
    assert "# Uncomment the following to tell other servers to send federation traffic on\n" in redacted
    assert len(redacted.splitlines()) == len(text.splitlines())


# (id, text, secret that must not show, what must still show)
REDACTION_CASES = [
    ("email-smtp-pass", "email:\n  smtp_host: mail.test\n  smtp_pass: 'hunter2'\n", "hunter2", "smtp_host: mail.test"),
    (
        "oidc-client-secret-in-a-list",
        "oidc_providers:\n  - idp_id: x\n    client_id: synapse\n    client_secret: s3cr3t-oidc\n",
        "s3cr3t-oidc",
        "client_id: synapse",
    ),
    ("flow-style-database-args", "database: {name: psycopg2, args: {password: pw-in-flow}}\n", "pw-in-flow", "name: psycopg2"),
    ("multi-database-args", "databases:\n  main:\n    name: psycopg2\n    args: {password: pw-two}\n", "pw-two", "main:"),
    ("block-scalar-secret", "signing_key: |\n  ed25519 a_key AAAA-secret-base64\nnext: 1\n", "AAAA-secret-base64", "next: 1"),
    ("alias-into-a-secret", "shared: &pw aliased-secret\nredis:\n  password: *pw\n", "aliased-secret", "redis:"),
    ("merge-into-database-args", "base: &db {host: merged-host}\ndatabase:\n  args:\n    <<: *db\n", "merged-host", "database:"),
    ("multi-line-plain-secret", "form_secret: first\n  second-line-secret\nnext: 1\n", "second-line-secret", "next: 1"),
    ("crlf-line-breaks", "a: 1\r\nmacaroon_secret_key: crlf-secret\r\nb: 2\r\n", "crlf-secret", "b: 2\r\n"),
    ("crlf-commented-secret", "a: 1\r\n#form_secret: old-crlf-secret\r\nb: 2\r\n", "old-crlf-secret", "b: 2\r\n"),
]


@pytest.mark.parametrize("text, secret, kept", [c[1:] for c in REDACTION_CASES], ids=[c[0] for c in REDACTION_CASES])
def test_redaction(text, secret, kept):
    redacted = redact_secrets(text)
    assert secret not in redacted
    assert REDACTED in redacted
    assert kept in redacted
    assert len(redacted.splitlines()) <= len(text.splitlines())


def test_redacted_diff_marks_a_changed_secret_and_not_an_unchanged_one():
    before = "macaroon_secret_key: old-macaroon\nform_secret: same-form\nserve_server_wellknown: false\n"
    result = edit_config(before, {"macaroon_secret_key": "new-macaroon", "serve_server_wellknown": True})
    shown_before, shown_after = redact_secrets(before, result.text)
    assert shown_before == (
        "macaroon_secret_key: <redacted>\nform_secret: <redacted>\nserve_server_wellknown: false\n"
    )
    assert shown_after == (
        "macaroon_secret_key: <redacted, changed>\nform_secret: <redacted>\nserve_server_wellknown: true\n"
    )


def test_secret_values_of_settings_are_the_ones_named_like_secrets():
    settings = {
        "macaroon_secret_key": "m-secret",
        "database": {"name": "psycopg2", "args": {"user": "synapse", "password": "pw", "cp_min": 5}},
        "email": {"smtp_pass": 1234, "smtp_user": "mailer"},
        "oidc_providers": [{"client_id": "c", "client_secret": "oidc"}],
        "signing_key": ["ed25519 a AAAA"],
        "public_baseurl": "https://matrix.example.test/",
        "serve_server_wellknown": True,
        "turn_shared_secret": None,
    }
    assert secret_values(settings) == {"m-secret", "pw", "1234", "oidc", "ed25519 a AAAA"}
    assert secret_values(None) == set()


def test_messages_about_values_redact_secrets():
    # What a refusal that quotes values ("would read back as ...") shows for each kind of key.
    assert _shown("macaroon_secret_key", "m-secret") == REDACTED
    assert _shown("database", {"name": "psycopg2", "args": {"host": "db.internal"}}) == REDACTED
    assert _shown("oidc_providers", [{"client_secret": "x"}]) == REDACTED
    assert _shown("public_baseurl", "https://matrix.example.test/") == "'https://matrix.example.test/'"


@pytest.fixture(name="config_dir")
def fixture_config_dir(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "homeserver.yaml").write_text("a: 1\n", encoding="utf-8")
    return tmp_path


def test_read_follows_an_absolute_link(config_dir):
    link = config_dir / "homeserver.yaml"
    link.symlink_to(config_dir / "real" / "homeserver.yaml")
    assert read_config(str(link)) == (str(config_dir / "real" / "homeserver.yaml"), b"a: 1\n")


def test_read_follows_a_relative_link(config_dir):
    etc = config_dir / "etc"
    etc.mkdir()
    link = etc / "homeserver.yaml"
    link.symlink_to(os.path.join("..", "real", "homeserver.yaml"))
    assert read_config(str(link)) == (str(config_dir / "real" / "homeserver.yaml"), b"a: 1\n")


def test_read_follows_a_chain_of_two_links(config_dir):
    middle = config_dir / "middle.yaml"
    middle.symlink_to("real/homeserver.yaml")
    link = config_dir / "homeserver.yaml"
    link.symlink_to(middle)
    assert read_config(str(link))[0] == str(config_dir / "real" / "homeserver.yaml")


def test_dangling_link_says_where_it_leads(config_dir):
    link = config_dir / "homeserver.yaml"
    link.symlink_to(config_dir / "gone.yaml")
    with pytest.raises(SynapseConfigError) as caught:
        read_config(str(link))
    assert "cannot read (a link to %s)" % (config_dir / "gone.yaml") in str(caught.value)
    assert "No such file" in str(caught.value)


def test_fifo_is_refused_without_blocking(config_dir):
    fifo = config_dir / "homeserver.yaml"
    os.mkfifo(fifo)
    with no_hang(20):
        with pytest.raises(SynapseConfigError) as caught:
            read_config(str(fifo))
    assert "not a regular file" in str(caught.value)


def test_directory_is_refused(config_dir):
    with pytest.raises(SynapseConfigError) as caught:
        read_config(str(config_dir / "real"))
    assert re.search("not a regular file|Is a directory", str(caught.value))


def test_file_larger_than_max_size_is_refused_naming_the_limit(config_dir):
    path = config_dir / "real" / "homeserver.yaml"
    path.write_bytes(b"a: 1\n" + b"#" * DEFAULT_MAX_SIZE)
    with pytest.raises(SynapseConfigError) as caught:
        read_config(str(path))
    assert "is %d bytes, more than max_size (%d bytes)" % (DEFAULT_MAX_SIZE + 5, DEFAULT_MAX_SIZE) in str(caught.value)
    path.write_bytes(b"a: 1\n" + b"#" * 95)
    assert read_config(str(path), max_size=100)[1].startswith(b"a: 1\n")
    with pytest.raises(SynapseConfigError):
        read_config(str(path), max_size=99)
