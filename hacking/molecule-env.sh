# shellcheck shell=bash
# Sourced by hacking/molecule-one.sh and hacking/demo.sh (from the collection root, after they
# define die): the tools and the collection link every Molecule run needs.

# The tools: from PATH (make puts the virtualenv first), else from ./.venv.
if ! command -v molecule >/dev/null && [ -x .venv/bin/molecule ]; then
  export PATH=$PWD/.venv/bin:$PATH
fi
command -v molecule >/dev/null || die "molecule is missing: run 'make venv' or put a virtualenv with requirements-dev.txt on PATH"

# The collection under test is found by its name through this link (the Makefile's `link`).
mkdir -p .tmp/collections/ansible_collections/homeserver
ln -sfn "$PWD" .tmp/collections/ansible_collections/homeserver/delegation
export ANSIBLE_COLLECTIONS_PATH=$PWD/.tmp/collections
# Scenarios live in molecule/ at the collection root; say so, instead of letting Molecule
# look for extensions/molecule/ and warn.
export MOLECULE_GLOB='molecule/*/molecule.yml'
