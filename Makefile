# Development and CI entry points. `make test` is the one command CI runs: it installs what it
# needs (Debian packages for the real servers the tests start, a virtualenv for Python) and runs
# every suite. Each suite also has its own target.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

TMP := $(CURDIR)/.tmp

# The ansible-core versions the collection supports (meta/runtime.yml), each tested in CI with
# sanity, unit and package checks (`make matrix`). CORE=<version> makes any target use that
# version's virtualenv, .tmp/venv-<version>, made from tests/cores/<version>.txt with the Python
# its "# python:" line names (hacking/core-python.sh). The default version's virtualenv is .venv,
# from requirements-dev.txt, which adds the lint and docs tools.
CORES := 2.16 2.17 2.18 2.19 2.20 2.21
DEFAULT_CORE := 2.19
CORE ?= $(DEFAULT_CORE)
ifeq ($(filter $(CORE),$(CORES)),)
$(error CORE=$(CORE) is not a tested ansible-core version; choose one of: $(CORES))
endif
ifeq ($(CORE),$(DEFAULT_CORE))
VENV ?= $(CURDIR)/.venv
REQUIREMENTS := requirements-dev.txt
else
VENV ?= $(TMP)/venv-$(CORE)
REQUIREMENTS := tests/cores/$(CORE).txt
endif
# Empty: the Python that hacking/core-python.sh finds for CORE.
PYTHON ?=
BIN := $(VENV)/bin
COLLECTIONS := $(TMP)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/homeserver/delegation
SANITY_ROOT := $(TMP)/sanity-$(CORE)/ansible_collections/homeserver/delegation

# The collection is found by name from this checkout, by Ansible and by Python imports.
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PYTHONPATH := $(COLLECTIONS)$(if $(PYTHONPATH),:$(PYTHONPATH))
export PATH := $(BIN):$(PATH)
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0

.PHONY: help
help:  ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 22

# The integration tests wait on real servers more than they compute (about 80 % of one core), so
# they run beside the static checks; their output is kept in .tmp/integration.log and shown after.
.PHONY: test
test: host venv unit roles  ## Everything CI runs, from a fresh machine
	mkdir -p $(TMP)
	status=0; \
	$(MAKE) --no-print-directory integration > $(TMP)/integration.log 2>&1 & integration=$$!; \
	$(MAKE) --no-print-directory sanity lint docs-lint package ee-context || status=1; \
	wait $$integration || { status=1; echo "test: make integration failed (its output below)"; }; \
	echo "==== make integration, run beside the checks above ($(TMP)/integration.log):"; \
	cat $(TMP)/integration.log; \
	exit $$status
	$(MAKE) --no-print-directory molecule cores

.PHONY: host
host:  ## Install the Debian packages the tests need and prepare podman (root)
	bash hacking/prepare-host.sh

.PHONY: images
images:  ## Build the local images of PLATFORMS (default debian12; "debian13 ubuntu2404", all) (root)
	bash hacking/build-images.sh

.PHONY: host-debian13
host-debian13:  ## Show that `make host` works on a fresh Debian 13 machine, in a container (root; minutes)
	bash hacking/debian13-host-check.sh

$(BIN)/.installed: $(REQUIREMENTS) requirements.txt tests/cores/$(CORE).txt tests/cores/tests.txt tests/cores/lab.txt
	bash hacking/core-venv.sh $(CORE) $(VENV) $(REQUIREMENTS) $(PYTHON)

.PHONY: venv
venv: $(BIN)/.installed link  ## Create .venv with the development requirements (CORE=2.16: .tmp/venv-2.16)

.PHONY: core-info
core-info: venv  ## Print the ansible-core and Python versions of CORE's virtualenv
	@$(BIN)/python -c 'import sys; from ansible.release import __version__ as v; print("ansible-core %s, Python %d.%d" % ((v,) + sys.version_info[:2]))'

.PHONY: link
link:
	mkdir -p $(dir $(COLLECTION_LINK))
	# Left alone when right: versions tested side by side must not replace it under each other.
	[ "$$(readlink $(COLLECTION_LINK))" = $(CURDIR) ] || ln -sfn $(CURDIR) $(COLLECTION_LINK)

.PHONY: unit
unit: venv  ## Unit and property tests (no network)
	$(BIN)/python -m pytest -n auto -p no:cacheprovider tests/unit

.PHONY: roles
roles: venv  ## The roles run by ansible-playbook on localhost with injected facts (no root, no containers)
	$(BIN)/python -m pytest -n auto -p no:cacheprovider tests/roles

# The integration tests run in a network namespace of their own: the lab's loopback and
# private IPv6 addresses never touch the host's interfaces, and nothing can leave the
# machine. Synapse's virtualenv is installed before, while the package index is reachable.
LAB_NETNS := unshare --net -- bash -c 'ip link set lo up && exec "$$@"' lab

.PHONY: integration
integration: venv  ## Tests against real DNS, web servers and Synapse on loopback (root)
	$(BIN)/python -c 'from ansible_collections.homeserver.delegation.tests.lab.synapse import synapse_venv; synapse_venv()'
	$(LAB_NETNS) $(BIN)/python -m pytest -p no:cacheprovider tests/integration

.PHONY: benchmark
benchmark: venv  ## Benchmarks with simulated wide-area latency (root; minutes)
	$(BIN)/python -c 'from ansible_collections.homeserver.delegation.tests.lab.synapse import synapse_venv; synapse_venv()'
	$(LAB_NETNS) $(BIN)/python benchmarks/discovery.py --names 30 500 --repeat 3
	$(LAB_NETNS) $(BIN)/python benchmarks/federation_check.py --names 30 500 --repeat 3
	$(LAB_NETNS) $(BIN)/python benchmarks/primitives.py

.PHONY: sanity
sanity: venv  ## ansible-test sanity on a copy laid out as ansible_collections/homeserver/delegation
	rm -rf $(TMP)/sanity-$(CORE) && mkdir -p $(SANITY_ROOT)
	git ls-files -z --cached --others --exclude-standard | \
	  rsync -a --from0 --files-from=- ./ $(SANITY_ROOT)/
	# A repository of its own, so ansible-test lists these files and not the outer checkout's.
	cd $(SANITY_ROOT) && git init -q && git add -A
	bash hacking/ansible-test-offline-bootstrap.sh $(BIN)/python
	cd $(SANITY_ROOT) && $(BIN)/ansible-test sanity --color no --venv --requirements \
	  --python $$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

.PHONY: lint
lint: venv  ## ansible-lint, production profile
	$(BIN)/ansible-lint --profile production

.PHONY: docs-lint
docs-lint: venv  ## antsibull-docs lint of plugin and role docs, antsibull-changelog lint
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs $(COLLECTION_LINK)
	$(BIN)/antsibull-changelog lint

DIST := $(TMP)/dist-$(CORE)
INSTALLED := $(TMP)/installed-$(CORE)

.PHONY: package
package: venv  ## Build the collection tarball, install it, and use the installed copy
	rm -rf $(DIST) $(INSTALLED) && mkdir -p $(DIST) $(INSTALLED)
	$(BIN)/ansible-galaxy collection build --output-path $(DIST) .
	ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) $(BIN)/ansible-galaxy collection install --offline --force -p $(INSTALLED) $(DIST)/homeserver-delegation-*.tar.gz
	ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) bash hacking/check-installed.sh $(INSTALLED)

# The execution environment: built with ansible-builder and podman, then used (docs/execution-environment.md).
.PHONY: ee
ee: host venv  ## Build the execution environment and run the verify playbook in it against the demo lab (root; minutes)
	bash hacking/ee/build.sh

.PHONY: ee-context
ee-context: venv  ## Check the execution environment's definition: ansible-builder create and introspection (seconds)
	bash hacking/ee/build.sh context

.PHONY: molecule
molecule: venv  ## Every Molecule scenario (podman)
	bash hacking/molecule-all.sh

# CI's one run off Debian 12 (docs/molecule.md, "What CI runs on which platform"): the demo
# scenario, which converges all three roles on two hosts in check mode first, then for real,
# then again for idempotence, and checks federation through the proxy.
CI_PLATFORM ?= ubuntu2404
.PHONY: molecule-ci-platform
molecule-ci-platform: venv  ## The demo scenario on CI_PLATFORM (default ubuntu2404; images built when missing), CI's run off Debian 12 (root)
	MOLECULE_PLATFORM=$(CI_PLATFORM) MOLECULE_SCENARIOS=demo bash hacking/molecule-all.sh

# On demand, not part of `make test` (CI time): one platform, or all of them one after the other.
.PHONY: molecule-platform
molecule-platform: venv  ## Every scenario and variant on PLATFORM (e.g. PLATFORM=ubuntu2404; images built when missing) (root)
	@[ -n "$(PLATFORM)" ] || { echo "molecule-platform: set PLATFORM to one of: debian12 debian13 ubuntu2204 ubuntu2404 ubuntu2604" >&2; exit 2; }
	MOLECULE_PLATFORM=$(PLATFORM) bash hacking/molecule-all.sh

.PHONY: molecule-matrix
molecule-matrix: venv  ## Every scenario and variant on every platform (MATRIX_PLATFORMS), table in .tmp/molecule-matrix.md (root; hours)
	bash hacking/molecule-matrix.sh

.PHONY: demo-scenario
# With another version than the default, the lab and the logs are the version's own
# (MOLECULE_LAB_VARIANT core216, .tmp/molecule-logs-core216/), so that versions run side by side.
demo-scenario: venv  ## The demo Molecule scenario alone (CORE=2.16: with that ansible-core as controller)
	@echo "demo-scenario: controller $$($(BIN)/python -c 'import sys; from ansible.release import __version__ as v; print("ansible-core %s, Python %d.%d" % ((v,) + sys.version_info[:2]))')"
	$(if $(filter $(CORE),$(DEFAULT_CORE)),,MOLECULE_LAB_VARIANT=core$(subst .,,$(CORE)) \
	  MOLECULE_LOGS=$(TMP)/molecule-logs-core$(subst .,,$(CORE))) MOLECULE_SCENARIOS=demo bash hacking/molecule-all.sh

OLDEST_CORE := $(firstword $(CORES))
NEWEST_CORE := $(lastword $(CORES))

.PHONY: matrix
matrix: link  ## venv, unit, roles, sanity and package on every ansible-core version (MATRIX_CORES, MATRIX_JOBS)
	bash hacking/matrix.sh

# `make test` runs the default version's suites itself. This adds every check on the oldest and
# the newest version, side by side, then the demo scenario with each of them as controller,
# beside the demo scenario on CI_PLATFORM (`make molecule-ci-platform`), each in a lab of its
# own. The versions between them run with `make matrix` (README, "CI time").
.PHONY: cores
cores: link  ## The oldest and newest ansible-core versions' part of `make test`, with the demo scenario on CI_PLATFORM
	MATRIX_CORES="$(OLDEST_CORE) $(NEWEST_CORE)" MATRIX_STEPS="venv unit roles sanity package" \
	  MATRIX_LOGS=$(TMP)/matrix-logs/checks bash hacking/matrix.sh
	status=0; \
	$(MAKE) --no-print-directory molecule-ci-platform & platform=$$!; \
	$(MAKE) --no-print-directory cores-lab CORES_LAB_STEPS=demo-scenario MATRIX_JOBS=2 || status=1; \
	wait $$platform || status=1; \
	exit $$status

# On demand (about 20 minutes): what `make cores` ran before CI time made it choose.
CORES_LAB_STEPS ?= integration demo-scenario
.PHONY: cores-lab
cores-lab: link  ## The integration tests and the demo scenario with the oldest and the newest ansible-core as controller (root)
	MATRIX_CORES="$(OLDEST_CORE) $(NEWEST_CORE)" MATRIX_STEPS="$(CORES_LAB_STEPS)" MATRIX_JOBS=$(or $(MATRIX_JOBS),1) \
	  MATRIX_LOGS=$(TMP)/matrix-logs/lab bash hacking/matrix.sh

.PHONY: demo
# With MOLECULE_IMAGE (a workstation with stock images) the host needs no preparation.
demo: $(if $(MOLECULE_IMAGE),,host) venv  ## Start the demo lab (podman; DEMO_PLATFORM=ubuntu2404...), delegate and verify example.test twice, print the report
	bash hacking/demo.sh

.PHONY: demo-clean
demo-clean: link  ## Remove the demo lab (of DEMO_PLATFORM): containers, network, files
	bash hacking/demo.sh clean

.PHONY: clean
clean:  ## Remove the virtualenv and scratch files
	rm -rf $(VENV) $(TMP) tests/output
