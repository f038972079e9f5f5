# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The Python libraries each plugin needs where it runs (the managed host for a module, the
    # controller for the lookup). module_utils._dependencies imports them and names the same
    # sets (DNS_ONLY, FEDERATION); a missing one fails the plugin before it starts, with a
    # message naming the package to install. HTTPS needs nothing beyond Python's own modules.
    DOCUMENTATION = r"""
options: {}
requirements:
  - dnspython >= 2.3 (Python library), where the plugin runs
"""

    # srv_info, srv_record, well_known_info, the server_discovery lookup: dnspython only.
    DNS = r"""
options: {}
requirements:
  - dnspython >= 2.3 (Python library), where the plugin runs
"""

    # federation_check: also cryptography, for the certificates and the ed25519 signatures of
    # the key responses.
    FEDERATION = r"""
options: {}
requirements:
  - dnspython >= 2.3 (Python library), where the plugin runs
  - cryptography (Python library), where the plugin runs, to read certificates and verify the
    ed25519 signatures of the key responses
"""
