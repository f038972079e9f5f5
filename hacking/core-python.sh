#!/usr/bin/env bash
# Prints the Python interpreter that the virtualenv of one ansible-core version is made with:
# the first of the versions on the "# python:" line of tests/cores/<core>.txt that is installed
# and can make a virtualenv, as pythonX.Y on PATH or under pyenv's versions directory
# ($PYENV_ROOT, default ~/.pyenv). Fails, naming what it looked for, when none is.
#   hacking/core-python.sh 2.21       # /root/.pyenv/versions/3.13.0/bin/python3.13
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "core-python: $*" >&2; exit 1; }

core=${1:?usage: $0 CORE (an ansible-core version such as 2.16)}
file=tests/cores/$core.txt
if [ ! -f "$file" ]; then
  known=()
  for other in tests/cores/[0-9]*.txt; do
    known+=("$(basename "$other" .txt)")
  done
  die "no ansible-core version '$core' ($file); known: ${known[*]}"
fi
read -r -a wanted <<< "$(sed -n 's/^# python: *//p' "$file")"
[ ${#wanted[@]} -gt 0 ] || die "$file has no '# python: X.Y' line"

# Runs $1 and checks that it is Python $2 with the venv module and pip's bootstrap.
usable() {
  "$1" -c "import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != tuple(map(int, '$2'.split('.'))))" \
    >/dev/null 2>&1
}

pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
tried=()
for version in "${wanted[@]}"; do
  candidates=()
  # pyenv's shims are on PATH but fail for a version that is not selected: `usable` runs them.
  path_python=$(command -v "python$version" || true)
  [ -n "$path_python" ] && candidates+=("$path_python")
  shopt -s nullglob
  for candidate in "$pyenv_root"/versions/"$version".*/bin/"python$version"; do
    candidates+=("$candidate")
  done
  shopt -u nullglob
  for candidate in "${candidates[@]}"; do
    if usable "$candidate" "$version"; then
      "$candidate" -c 'import sys; print(sys.executable)'  # the interpreter behind a shim
      exit 0
    fi
  done
  tried+=("python$version (on PATH and $pyenv_root/versions/$version.*/bin/)")
done
die "ansible-core $core is tested on Python ${wanted[*]} ($file), and none was found with the venv module: looked for ${tried[*]}. Install one, e.g. 'pyenv install ${wanted[0]}', or on Debian 'apt-get install python${wanted[0]} python${wanted[0]}-venv' where the release has it."
