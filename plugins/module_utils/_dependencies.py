# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""The optional third-party libraries, imported here and nowhere else.

This module is internal to the homeserver.delegation collection and may change at any time.

Each library is imported once, guarded, with its traceback kept; the other files take the
module objects from here (``dns``, the ``cryptography`` names), which are None when the
library is missing. What each plugin needs (documented by the
``homeserver.delegation.requirements`` doc fragment):

============================= =====================================================
srv_info, srv_record,         dnspython
well_known_info, the lookup
federation_check              dnspython, cryptography (certificates and the
                              ed25519 signatures of the key response)
============================= =====================================================

HTTPS needs no library beyond Python's own (``_https_client`` explains why).

A plugin calls :func:`require` (a module through ``_connection.run_module_check``) before it
starts, so a missing library is one clear message naming the package, never a traceback or
an error halfway through a check.
"""

from __future__ import annotations

import traceback

try:
    import dns.asyncresolver
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.resolver
    import dns.tsig
    import dns.update
except ImportError:
    dns = None
    _DNSPYTHON_ERROR = traceback.format_exc()
else:
    _DNSPYTHON_ERROR = None

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.x509.oid import NameOID
except ImportError:
    x509 = InvalidSignature = Ed25519PublicKey = NameOID = None
    _CRYPTOGRAPHY_ERROR = traceback.format_exc()
else:
    _CRYPTOGRAPHY_ERROR = None

#: What the other files take from here (the modules are None when their library is missing).
__all__ = ["dns", "x509", "InvalidSignature", "Ed25519PublicKey", "NameOID",
           "IMPORT_ERRORS", "HAS_DNSPYTHON", "HAS_CRYPTOGRAPHY", "DNS_ONLY",
           "FEDERATION", "MissingLibraryError", "require"]

#: library (its name on PyPI) -> the traceback of its failed import, or None when installed.
IMPORT_ERRORS = {
    "dnspython": _DNSPYTHON_ERROR,
    "cryptography": _CRYPTOGRAPHY_ERROR,
}
HAS_DNSPYTHON = _DNSPYTHON_ERROR is None
HAS_CRYPTOGRAPHY = _CRYPTOGRAPHY_ERROR is None

#: What each plugin needs, in the order to report them.
DNS_ONLY = ("dnspython",)
FEDERATION = ("dnspython", "cryptography")


class MissingLibraryError(ImportError):
    """A Python library a plugin needs is not installed: ``library`` (its PyPI name) and the
    ``import_traceback`` of its failed import."""

    def __init__(self, library, import_traceback):
        self.library = library
        self.import_traceback = import_traceback
        super().__init__("the Python library %s is required (pip install %s)" % (library, library))


def require(libraries):
    """Raise :class:`MissingLibraryError` for the first of ``libraries`` (PyPI names, keys of
    :data:`IMPORT_ERRORS`) that is not installed."""
    for library in libraries:
        if IMPORT_ERRORS[library] is not None:
            raise MissingLibraryError(library, IMPORT_ERRORS[library])
