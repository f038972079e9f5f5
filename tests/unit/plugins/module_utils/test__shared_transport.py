# Copyright (c) 2026, homeserver.delegation developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SharedTransport: identical questions answered once, errors shared, others passed through."""

from __future__ import annotations

import pytest

from ansible_collections.homeserver.delegation.plugins.module_utils import _loop
from ansible_collections.homeserver.delegation.plugins.module_utils._shared_transport import SharedTransport
from ansible_collections.homeserver.delegation.plugins.module_utils._transport import AddressAnswer, TransportError
from ansible_collections.homeserver.delegation.tests.unit.fake_federation import FakeFederationTransport

URL = "https://example.org/x"


class SlowTransport(FakeFederationTransport):
    """Answers DNS after a wait on the engine's loop, so concurrent callers really overlap."""

    async def aquery_address(self, host, family):
        await _loop.sleep(0.05)
        return super().query_address(host, family)


def test_concurrent_identical_queries_are_sent_once():
    network = SlowTransport({"A": {"example.org": ["42.0.0.1"]}})
    shared = SharedTransport(network)
    answers = _loop.run(_loop.gather(*[shared.aquery_address("example.org", "A") for _caller in range(8)]))
    assert len(answers) == 8
    assert all(answer.addresses == ["42.0.0.1"] for answer in answers)
    assert network.log == ["A example.org"]
    shared.query_address("example.org", "AAAA")
    assert network.log == ["A example.org", "AAAA example.org"]


def test_errors_are_shared_and_attributes_pass_through():
    network = FakeFederationTransport({"A": {"example.org": ["42.0.0.1"]}}, {}, validate_certs=False)
    shared = SharedTransport(network)
    for _attempt in range(2):
        with pytest.raises(TransportError):
            shared.https_get("42.0.0.1", 443, "/x", "example.org", "example.org", 100)
    assert network.log == ["GET " + URL]
    assert shared.validate_certs is False
    shared.probe_federation("42.0.0.1", 8448, "example.org", "example.org", ["/"])
    shared.probe_federation("42.0.0.1", 8448, "example.org", "example.org", ["/"])
    assert len(network.probe_calls) == 2, "federation probes are never shared"


class BudgetAwareTransport(FakeFederationTransport):
    """Answers TIMEOUT when a call is given less time than the answer takes (0.5 s)."""

    def query_address(self, host, family, timeout=None):
        if timeout is not None and timeout < 0.5:
            self._record("%s %s (cut short)" % (family, host))
            return AddressAnswer(host, family, "TIMEOUT", [], [], "cut short by the caller's time budget")
        return super().query_address(host, family)


def test_an_answer_cut_short_by_one_names_budget_is_not_another_names_answer():
    network = BudgetAwareTransport({"A": {"example.org": ["42.0.0.1"]}})
    shared = SharedTransport(network)
    # A name whose budget is nearly spent asks first, then a name with time left.
    assert shared.query_address("example.org", "A", timeout=0.01).rcode == "TIMEOUT"
    assert shared.query_address("example.org", "A").addresses == ["42.0.0.1"]
    # Once a full answer is there, a name short of time takes it too.
    assert shared.query_address("example.org", "A", timeout=0.01).addresses == ["42.0.0.1"]
    assert network.log == ["A example.org (cut short)", "A example.org"]
