#!/usr/bin/env bash
# Tests every supported ansible-core version: for each, its virtualenv (made once, reused), the
# unit tests, the role tests, ansible-test sanity, and the package check (build the tarball,
# install it, render the docs of every plugin and role, parse every playbook and run the verify
# playbook from the installed copy): `make CORE=<version> venv unit roles sanity package`.
# MATRIX_JOBS versions at a time (default 2), MATRIX_STEPS for other targets. Each version's log is
# $MATRIX_LOGS/<version>.log (default .tmp/matrix-logs); the end of a failing one is shown.
# Prints the seconds each step took, and exits non-zero when any version fails.
#   hacking/matrix.sh
#   MATRIX_CORES="2.16 2.21" MATRIX_STEPS="venv unit" MATRIX_LOGS=.tmp/some-logs hacking/matrix.sh
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "matrix: $*" >&2; exit 1; }

jobs=${MATRIX_JOBS:-2}
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "MATRIX_JOBS must be a positive number, got '$jobs'"
cores=${MATRIX_CORES:-$(sed -n 's/^CORES := //p' Makefile)}
read -r -a cores <<< "$cores"
[ ${#cores[@]} -gt 0 ] || die "no ansible-core versions to test"
read -r -a steps <<< "${MATRIX_STEPS:-venv unit roles sanity package}"
[ ${#steps[@]} -gt 0 ] || die "no steps to run"
for core in "${cores[@]}"; do
  [ -f "tests/cores/$core.txt" ] || die "no ansible-core version '$core' (tests/cores/$core.txt)"
done
# A missing Python fails here, before anything runs, naming what to install.
for core in "${cores[@]}"; do
  bash hacking/core-python.sh "$core" > /dev/null
done

export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
logs=${MATRIX_LOGS:-.tmp/matrix-logs}
rm -rf "$logs"
mkdir -p "$logs"
echo "matrix: ansible-core ${cores[*]}, ${steps[*]}, $jobs at a time, logs in $logs/"

# CPU seconds (user and system) of the finished children of the shell that ran `times` into
# the file $1. `times` must run in run_core's shell: a command substitution's subshell has no
# children yet.
cpu_seconds() {
  awk 'END { n = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); n += a[1] * 60 + a[2] }
             printf "%d", n }' "$1"
}

run_core() {
  local core=$1 start=$SECONDS step_start step_cpu step results=() log="$logs/$1.log"
  for step in $step_list; do
    step_start=$SECONDS
    times > "$logs/.$core.times"
    step_cpu=$(cpu_seconds "$logs/.$core.times")
    echo "==== matrix: make CORE=$core $step" >> "$log"
    # Make's own variables would pass to the child: only CORE selects the version.
    if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u VENV -u PYTHON \
        make --no-print-directory CORE="$core" "$step" >> "$log" 2>&1; then
      results+=("$step FAILED after $((SECONDS - step_start)) s")
      echo "matrix: FAIL ansible-core $core: ${results[*]}"
      echo "$step" > "$logs/$core.failed"
      return 0
    fi
    times > "$logs/.$core.times"
    results+=("$step $((SECONDS - step_start)) s, CPU $(($(cpu_seconds "$logs/.$core.times") - step_cpu)) s")
  done
  local info joined
  info=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u VENV -u PYTHON \
    make --no-print-directory -s CORE="$core" core-info 2>> "$log" | tail -n 1)
  joined=$(printf "%s; " "${results[@]}")
  echo "matrix: PASS ${info:-ansible-core $core}: $((SECONDS - start)) s (${joined%; })"
}
export -f run_core cpu_seconds
export logs step_list="${steps[*]}"

start=$SECONDS
# shellcheck disable=SC2016  # $1 is expanded by the child shell, on purpose
printf '%s\n' "${cores[@]}" | xargs -P "$jobs" -I{} bash -c 'run_core "$1"' _ {}

shopt -s nullglob
failed=("$logs"/*.failed)
for marker in "${failed[@]}"; do
  log=${marker%.failed}.log
  echo
  echo "================ ansible-core $(basename "$log" .log): '$(cat "$marker")' failed, the end of $log ================"
  tail -n 60 "$log"
  echo "---------------- end of $log ----------------"
done
echo "matrix: ${#cores[@]} ansible-core version(s), ${#failed[@]} failed, $((SECONDS - start)) s"
[ ${#failed[@]} -eq 0 ]
