# shellcheck shell=bash
# Sourced by hacking/molecule-one.sh and hacking/demo.sh (from the collection root, after they
# define die): the tools and the collection link every Molecule run needs.

# The tools: from $VENV when it is set (as for make), else from PATH, else from ./.venv.
venv=${VENV:-}
if [ -n "$venv" ]; then
  [ -x "$venv/bin/molecule" ] || die "VENV=$venv has no bin/molecule: run 'make VENV=$venv venv'"
  PATH=$(cd "$venv" && pwd)/bin:$PATH
  export PATH
elif ! command -v molecule >/dev/null && [ -x .venv/bin/molecule ]; then
  export PATH=$PWD/.venv/bin:$PATH
fi
command -v molecule >/dev/null || die "molecule is missing: run 'make venv', set VENV=<virtualenv>, or put a virtualenv with requirements-dev.txt on PATH"

# The collection under test is found by its name through this link (the Makefile's `link`).
mkdir -p .tmp/collections/ansible_collections/homeserver
ln -sfn "$PWD" .tmp/collections/ansible_collections/homeserver/delegation
export ANSIBLE_COLLECTIONS_PATH=$PWD/.tmp/collections
# Scenarios live in molecule/ at the collection root; say so, instead of letting Molecule
# look for extensions/molecule/ and warn.
export MOLECULE_GLOB='molecule/*/molecule.yml'
