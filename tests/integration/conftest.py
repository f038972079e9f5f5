"""Fixtures that start real servers on loopback for the integration tests.

One lab per test session: a private slice of loopback (see tests/lab/lab.py), a test CA,
one BIND and one nginx. Test modules add their zones and virtual hosts, then call
`lab.reload()`; nothing is restarted between tests. Synapse starts on first use of the
`synapse` fixture (its virtualenv is cached, see tests/lab/synapse.py). When a test fails,
the report shows what each running server logged during that test.

These tests need root (addresses on `lo`, port 53 and 443) and the Debian packages in
tests/apt.d/lab.txt; run them with `make integration`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ansible.plugins.loader import init_plugin_loader

# Ansible's collection finder first, as in tests/unit/conftest.py: tests that load a plugin
# in-process (lookup_loader.get) find it by its FQCN, as ansible-playbook does.
init_plugin_loader()

# pylint: disable-next=wrong-import-position
from ansible_collections.homeserver.delegation.tests.lab.lab import Lab
from ansible_collections.homeserver.delegation.tests.lab._process import running_processes  # pylint: disable=wrong-import-position

_REQUIRED = ('named', 'named-checkconf', 'named-checkzone', 'rndc', 'nginx', 'ip')


def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
    """Say plainly why the suite cannot run instead of failing every test at set-up."""
    missing = [tool for tool in _REQUIRED if shutil.which(tool) is None]
    reason = None
    if os.geteuid() != 0:
        reason = 'the integration tests need root (loopback addresses, ports 53 and 443)'
    elif missing:
        reason = f'missing {", ".join(missing)}: run `make host` (tests/apt.d/lab.txt)'
    if reason and os.environ.get('CI'):
        # In CI a suite that skips everything would pass without testing anything.
        raise pytest.UsageError(f'integration tests cannot run: {reason}')
    if reason:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope='session')
def lab():
    """The session's running BIND + nginx + CA (tests.lab.lab.Lab)."""
    with Lab(keep=bool(os.environ.get('LAB_KEEP'))) as session_lab:
        yield session_lab


@pytest.fixture(scope='session')
def synapse(lab):
    """A real Synapse named synapse.lab.test on lab address .8:8008 (plain HTTP, behind nginx)."""
    return lab.synapse('synapse.lab.test')


PLAYBOOKS = Path(__file__).parent / 'playbooks'


@pytest.fixture(scope='session')
def ansible_playbook(tmp_path_factory):
    """Run a playbook of tests/integration/playbooks/ with extra vars; return the finished process.

    The collection is found through ANSIBLE_COLLECTIONS_PATH (set by the Makefile); output is
    plain text so tests can search it.
    """
    directory = tmp_path_factory.mktemp('playbooks')
    executable = Path(sys.executable).parent / 'ansible-playbook'

    def run(playbook: str, extra_vars: dict, timeout: float = 300) -> subprocess.CompletedProcess:
        vars_file = directory / f'{playbook}.{len(list(directory.iterdir()))}.json'
        vars_file.write_text(json.dumps(extra_vars), encoding='utf-8')
        env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
                   ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0',
                   ANSIBLE_RETRY_FILES_ENABLED='0')
        return subprocess.run([str(executable), str(PLAYBOOKS / playbook), '-e', f'@{vars_file}'],
                              capture_output=True, text=True, timeout=timeout, env=env, check=False)
    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """Remember where each server's logs stand once the fixtures are up, before the test."""
    yield
    item.lab_log_marks = {id(process): process.log_marks() for process in running_processes()}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # pylint: disable=unused-argument
    """Attach every running server's log lines from this test to a failure report."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    marks = getattr(item, 'lab_log_marks', {})
    for process in running_processes():
        report.sections.append((f'lab log: {process.name}',
                                process.log_report(marks.get(id(process)), max_bytes=8000)))
