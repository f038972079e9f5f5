# Development and CI entry points. `make test` is the one command CI runs: it installs what it
# needs (Debian packages for the real servers the tests start, a virtualenv for Python) and runs
# every suite. Each suite also has its own target.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
BIN := $(VENV)/bin
TMP := $(CURDIR)/.tmp
COLLECTIONS := $(TMP)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/homeserver/delegation
SANITY_ROOT := $(TMP)/sanity/ansible_collections/homeserver/delegation

# The collection is found by name from this checkout, by Ansible and by Python imports.
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PYTHONPATH := $(COLLECTIONS)$(if $(PYTHONPATH),:$(PYTHONPATH))
export PATH := $(BIN):$(PATH)
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0

.PHONY: help
help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 22

.PHONY: test
test: host venv unit sanity lint docs-lint package ee-context integration molecule  ## Everything CI runs, from a fresh machine

.PHONY: host
host:  ## Install the Debian packages the tests need and prepare podman (root)
	bash hacking/prepare-host.sh

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

.PHONY: venv
venv: $(BIN)/.installed link  ## Create .venv with the development requirements

.PHONY: link
link:
	mkdir -p $(dir $(COLLECTION_LINK))
	ln -sfn $(CURDIR) $(COLLECTION_LINK)

.PHONY: unit
unit: venv  ## Unit and property tests (no network)
	$(BIN)/python -m pytest -n auto -p no:cacheprovider tests/unit

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
	rm -rf $(TMP)/sanity && mkdir -p $(SANITY_ROOT)
	git ls-files -z --cached --others --exclude-standard | \
	  rsync -a --from0 --files-from=- ./ $(SANITY_ROOT)/
	# A repository of its own, so ansible-test lists these files and not the outer checkout's.
	cd $(SANITY_ROOT) && git init -q && git add -A
	bash hacking/ansible-test-offline-bootstrap.sh $(BIN)/python
	cd $(SANITY_ROOT) && $(BIN)/ansible-test sanity --color no --python 3.11 --venv --requirements

.PHONY: lint
lint: venv  ## ansible-lint, production profile
	$(BIN)/ansible-lint --profile production

.PHONY: docs-lint
docs-lint: venv  ## antsibull-docs lint of plugin and role docs, antsibull-changelog lint
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs $(COLLECTION_LINK)
	$(BIN)/antsibull-changelog lint

DIST := $(TMP)/dist
INSTALLED := $(TMP)/installed

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

.PHONY: demo
# With MOLECULE_IMAGE (a workstation with stock images) the host needs no preparation.
demo: $(if $(MOLECULE_IMAGE),,host) venv  ## Start the demo lab (podman), delegate and verify example.test twice, print the report
	bash hacking/demo.sh

.PHONY: demo-clean
demo-clean: link  ## Remove the demo lab: containers, network, files
	bash hacking/demo.sh clean

.PHONY: clean
clean:  ## Remove the virtualenv and scratch files
	rm -rf $(VENV) $(TMP) tests/output
