# Copyright (c) 2026, homeserver.delegation developers
# Simplified BSD License (see https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause

"""The one deadline of a network exchange, whatever a peer trickles.

This module is internal to the homeserver.delegation collection and may change at any time.

A socket timeout bounds each wait, not the exchange: a peer that sends one byte a second keeps
a read alive for ever. :class:`RequestDeadline` fixes the moment the whole exchange (connect,
TLS handshake, every request, headers and body) must be done; every wait of the exchange on the
loop (``_loop.readable``/``writable``) ends at :attr:`RequestDeadline.at`, where the loop throws
``TimeoutError`` into it, so no read outlives the deadline.
"""

from __future__ import annotations

import time


class RequestDeadline:
    """A deadline ``seconds`` from now; ``use`` names the exchange in messages ("request",
    "probe")."""

    def __init__(self, seconds, use="request", clock=time.monotonic):
        self.seconds = float(seconds)
        self.use = use
        self._clock = clock
        #: The ``time.monotonic()`` value every wait of the exchange ends at.
        self.at = clock() + self.seconds

    def remaining(self):
        """Seconds left before the deadline (0 when it has passed)."""
        return max(0.0, self.at - self._clock())

    @property
    def expired(self):
        """Whether the deadline has passed."""
        return self.remaining() <= 0
