# Copyright (c) homeserver.delegation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homeserver.delegation.plugins.module_utils._input import (
    InputError,
    check_input,
    client_document,
)


def check_input_filter(value, kind, what):
    """Check a role variable by the grammar of its kind; return its canonical form."""
    try:
        return check_input(value, kind, what)
    except InputError as exc:
        raise AnsibleFilterError(str(exc)) from exc
    except ValueError as exc:
        raise AnsibleFilterError("check_input: %s" % exc) from exc


def well_known_client_document_filter(base_url, identity_server="", extra=None):
    """Render the /.well-known/matrix/client document as compact JSON."""
    try:
        return client_document(base_url, identity_server, extra)
    except InputError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """Grammars of the role variables, and the client document built from them."""

    def filters(self):
        return {
            "check_input": check_input_filter,
            "well_known_client_document": well_known_client_document_filter,
        }
