#!/usr/bin/python
# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: synapse_config
short_description: Set or remove top-level keys in a Synapse homeserver.yaml, keeping every other byte
version_added: 0.1.0
description:
  - Edits only the named top-level keys of a Synapse configuration file such as C(homeserver.yaml).
    Comments, key order, blank lines and quoting of everything else stay byte for byte as they were.
  - >-
    A key that is present gets its value replaced, whether it was written in block style, flow style,
    or as a multi-line block scalar. Comment lines indented under the key belong to its value and are
    replaced with it; a comment on the key's own line (C(key: false  # why)) is kept.
  - >-
    A key that is missing is added right after a column-0 commented-out default of the same key
    (C(#serve_server_wellknown: false)), which stays as it is. Without such a comment it is added after
    the last entry, before trailing blank lines and comments (Synapse ends its files with C(# vim:ft=yaml)).
  - A key listed in O(absent) is removed with its value. Comments above it are kept, because they may
    describe more than that key.
  - Before writing, the new text is parsed and compared with the old one; the module refuses unless every
    other key reads back equal and the named keys read back as exactly the wanted values (C(true) is not
    C(1)). It also refuses files it cannot edit safely, and then writes nothing. These are files that do not
    parse, hold several YAML documents, have duplicate keys at any level, a top level that is not a block
    mapping with keys in column 0, or anchors/aliases in a key that would change.
  - Values are written the way Synapse reads them back (C(yaml.safe_load)); strings are quoted when needed,
    mappings and sequences are written in block style indented by two spaces.
  - The file is replaced atomically (a temporary file in the same directory, then a rename); its owner,
    group and mode are kept. A file that uses CRLF line breaks gets CRLF in the new lines too. When a new
    key is added after the last line of a file that has no final line break, that line gets one.
  - >-
    When O(path) is a symbolic link (or a chain of them, relative or absolute), the link is followed: the file
    it leads to is edited, atomically in that file's own directory with its owner, group and mode, and the
    link stays as it is. A backup, with O(backup=true), goes beside that file too. A path that is not a
    regular file (a directory, a FIFO, a device) is refused without being read; a FIFO does not block it.
  - >-
    Hostile or broken files are refused before they can cost time or memory. A file larger than O(max_size)
    bytes is not read. Collections nested deeper than 100 levels are refused as the scanner meets them. YAML
    aliases are counted as they are composed: a file whose aliases would expand it to more than 1,000,000
    nodes (an alias bomb such as "billion laughs") is refused, and so is an alias inside the value it names.
    Comparisons visit values shared through aliases once, so a file within these limits is compared in
    time proportional to its size.
  - >-
    Every problem in the file is reported as C(path:line:column: problem) (or C(path: problem) when it has no
    place): bytes that are not UTF-8, characters YAML does not allow, scanner, parser, composer and
    constructor errors (duplicate anchors, undefined aliases, unknown tags, impossible dates such as
    C(2001-13-01)), duplicate keys, and the limits above. PyYAML's own text, which quotes the offending line,
    is never shown.
  - >-
    In diff mode, the values of settings that hold secrets are shown as C(<redacted>) in both texts of the
    diff, and as C(<redacted, changed>) in the new text when they changed. Everything else, keys and comments
    included, is shown as it is. Redacted are the values, at any depth, of keys whose name contains
    C(secret), C(password) or C(passwd) or starts with C(signing_key) (C(macaroon_secret_key), C(form_secret),
    C(registration_shared_secret), C(turn_shared_secret), C(worker_replication_secret), oidc C(client_secret),
    C(redis.password), C(password_config), C(signing_key_path)...); of keys with a word C(pass), C(passphrase),
    C(dsn), C(jwk) or C(psk) (C(email.smtp_pass), C(sentry.dsn)); of keys ending in C(token), C(private_key),
    C(api_key) or C(access_key) (C(recaptcha_private_key)); the whole of C(database.args) and
    C(databases.<name>.args); what an alias inside such a value names; and commented-out lines that set such a
    key (C(#turn_shared_secret: "...")). Words are separated by anything but letters and digits.
  - >-
    Secrets set through O(settings), under a key named as above at any depth, are no_log values: Ansible
    masks them in the module's result, its logged invocation and error messages. Refusals that would quote a
    value quote C(<redacted>) instead for such keys.
author:
  - homeserver.delegation developers (@homeserver-delegation)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what would change and writes nothing.
  diff_mode:
    support: full
    details: The diff is a unified diff of the file's text, with the values of secrets redacted (see the description).
  platform:
    platforms: posix
options:
  path:
    description:
      - The YAML file to edit. It must exist. An empty file, or one with only comments, counts as an empty mapping.
    type: path
    required: true
  settings:
    description:
      - Top-level keys and the values they must have.
      - Each key must be a Synapse setting name, C(\A[a-z][a-z0-9_]{0,127}\Z) (lowercase letters, digits and
        underscores, starting with a letter, as all of Synapse's top-level keys are); anything else, such as a
        key with a newline, is refused. Keys nested in values are free.
      - Values of keys that hold secrets (see the description) are treated as no_log values.
    type: dict
    default: {}
  absent:
    description:
      - Top-level keys that must not be present. A key may not be both here and in O(settings).
      - Keys follow the same grammar as in O(settings).
    type: list
    elements: str
    default: []
  backup:
    description:
      - Keep a copy of the old file, with a timestamp in its name, when the file changes.
    type: bool
    default: false
  max_size:
    description:
      - The largest file, in bytes, the module reads. A larger one is refused, naming its size and this limit,
        before it is read.
      - The default, 512 KiB, is five times Synapse's full sample configuration (every option documented,
        about 100 KB). The module parses in pure Python, like Synapse, so time grows with the size.
    type: int
    default: 524288
notes:
  - Synapse merges several configuration files shallowly (a later file replaces whole top-level keys).
    To keep the main file untouched, a dedicated file in a C(conf.d/) directory given to Synapse with
    C(--config-path) works too; the role C(homeserver.delegation.synapse) supports both.
requirements:
  - PyYAML on the target (it comes with ansible-core)
seealso:
  - name: Synapse configuration manual
    description: Every option of homeserver.yaml.
    link: https://element-hq.github.io/synapse/latest/usage/configuration/config_documentation.html
"""

EXAMPLES = r"""
- name: Let Synapse serve /.well-known/matrix/server
  homeserver.delegation.synapse_config:
    path: /etc/matrix-synapse/homeserver.yaml
    settings:
      serve_server_wellknown: true
    backup: true

- name: Serve the client document too, with an extra key
  homeserver.delegation.synapse_config:
    path: /etc/matrix-synapse/homeserver.yaml
    settings:
      public_baseurl: https://matrix.example.com/
      extra_well_known_client_content:
        org.example.support: https://example.com/support

- name: Stop serving the client document
  homeserver.delegation.synapse_config:
    path: /etc/matrix-synapse/homeserver.yaml
    absent:
      - public_baseurl
      - extra_well_known_client_content
"""

RETURN = r"""
changed_keys:
  description: The keys whose value was set, added or removed (in the order they were asked for).
  returned: always
  type: list
  elements: str
  sample: [serve_server_wellknown]
backup_file:
  description: Name of the backup file.
  returned: when O(backup=true) and the file changed (not in check mode)
  type: str
  sample: /etc/matrix-synapse/homeserver.yaml.12345.2026-01-01@12:00:00~
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homeserver.delegation.plugins.module_utils._synapse_config import (
    DEFAULT_MAX_SIZE,
    HAS_YAML,
    SynapseConfigError,
    decode_config,
    edit_config,
    read_config,
    redact_secrets,
    secret_values,
)


class _SynapseConfigModule(AnsibleModule):
    """AnsibleModule that masks the secrets in ``settings`` from the very first log line.

    ``no_log`` can only hide a whole option, which would hide every setting from the diff too;
    the secret values are known only once the options are parsed, and AnsibleModule logs its
    invocation right after that, from this method.
    """

    def _log_invocation(self):
        self.no_log_values.update(secret_values(self.params.get("settings")))
        super()._log_invocation()


def _write_atomically(module, path, data):
    """Replace ``path`` (a regular file, never a link) by a file holding ``data``."""
    directory = os.path.dirname(path)
    handle, temp_path = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(data)
        # atomic_move gives the new file the old one's owner, group, mode and SELinux context.
        module.atomic_move(temp_path, path)
    finally:
        if os.path.exists(temp_path):
            os.unlink(temp_path)


def main():
    module = _SynapseConfigModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            settings=dict(type="dict", default={}, no_log=False),
            absent=dict(type="list", elements="str", default=[]),
            backup=dict(type="bool", default=False),
            max_size=dict(type="int", default=DEFAULT_MAX_SIZE),
        ),
        supports_check_mode=True,
    )
    # Also when the task's no_log skipped the invocation log.
    module.no_log_values.update(secret_values(module.params["settings"]))
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    path = module.params["path"]
    if module.params["max_size"] < 1:
        module.fail_json(msg="max_size must be a positive number of bytes, not %d" % module.params["max_size"])
    try:
        # A link is followed: its target is edited in its own directory and the link stays.
        real_path, old_bytes = read_config(path, module.params["max_size"])
        old_text = decode_config(old_bytes)
        result = edit_config(old_text, module.params["settings"], module.params["absent"])
    except SynapseConfigError as exc:
        module.fail_json(msg="%s; nothing was changed" % exc.located(path), changed_keys=[])

    new_bytes = result.text.encode("utf-8")
    changed = new_bytes != old_bytes
    response = dict(changed=changed, changed_keys=result.changed_keys if changed else [])
    if changed and module._diff:  # pylint: disable=protected-access
        before, after = redact_secrets(old_text, result.text)
        response["diff"] = dict(before=before, after=after, before_header=path, after_header=path)
    if changed and not module.check_mode:
        if module.params["backup"]:
            response["backup_file"] = module.backup_local(real_path)
        try:
            _write_atomically(module, real_path, new_bytes)
        except OSError as exc:
            module.fail_json(msg="%s: cannot write %s: %s" % (path, real_path, to_native(exc)), changed_keys=[])
    module.exit_json(**response)


if __name__ == "__main__":
    main()
