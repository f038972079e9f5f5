#!/usr/bin/env bash
# Creates or updates the virtualenv of one ansible-core version (the Makefile's `venv`):
#   hacking/core-venv.sh CORE VENV REQUIREMENTS [PYTHON]
# PYTHON defaults to the one hacking/core-python.sh finds for CORE (tests/cores/CORE.txt). An
# existing virtualenv is reused, its packages brought up to the requirements; one made with
# another Python version is made anew.
set -euo pipefail
cd "$(dirname "$0")/.."
core=${1:?usage: $0 CORE VENV REQUIREMENTS [PYTHON]}
venv=${2:?usage: $0 CORE VENV REQUIREMENTS [PYTHON]}
requirements=${3:?usage: $0 CORE VENV REQUIREMENTS [PYTHON]}
python=${4:-}
[ -n "$python" ] || python=$(bash hacking/core-python.sh "$core")

version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }
wanted=$(version "$python")
clear=()
if [ -x "$venv/bin/python" ] && [ "$(version "$venv/bin/python" 2>/dev/null || true)" != "$wanted" ]; then
  echo "core-venv: $venv is not Python $wanted: making it anew"
  clear=(--clear)
fi
echo "core-venv: ansible-core $core in $venv, Python $wanted ($python), from $requirements"
"$python" -m venv "${clear[@]}" "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet -r "$requirements"
core_version=$("$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')
case $core_version in
  "$core".*) ;;
  *) echo "core-venv: $venv has ansible-core $core_version, not $core" >&2; exit 1 ;;
esac
echo "core-venv: ansible-core $core_version on Python $wanted in $venv"
touch "$venv/bin/.installed"
