#!/usr/bin/env bash
# Runs every Molecule scenario under molecule/, MOLECULE_JOBS at a time (default 2: each
# scenario has its own containers and network, so they do not interfere). A scenario with a
# variants file (molecule/<scenario>/variants, one NAME=value per line) runs once per line, as
# <scenario>:<value> (the web scenario once per web server). Each run's log is kept in
# .tmp/molecule-logs/<scenario>[-<value>].log (another MOLECULE_PLATFORM than debian12:
# .tmp/molecule-logs-<platform>/; MOLECULE_LOGS: that directory), with one line per run in
# results.txt (PASS|FAIL|SKIP <run> <seconds>; SKIP: a web server the platform cannot run,
# below); the end of a failing one is shown. Exits non-zero when any run fails, when there
# is no scenario at all, and when every run chosen is skipped.
#   hacking/molecule-all.sh
#   MOLECULE_JOBS=1 MOLECULE_SCENARIOS="e2e_wellknown web:caddy" hacking/molecule-all.sh
#   MOLECULE_PLATFORM=ubuntu2404 MOLECULE_SCENARIOS=web hacking/molecule-all.sh   # another platform
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "molecule-all: $*" >&2; exit 1; }

jobs=${MOLECULE_JOBS:-2}
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "MOLECULE_JOBS must be a positive number, got '$jobs'"

if [ -n "${MOLECULE_SCENARIOS:-}" ]; then
  read -r -a scenarios <<< "$MOLECULE_SCENARIOS"
else
  shopt -s nullglob
  scenarios=()
  for file in molecule/*/molecule.yml; do
    scenarios+=("$(basename "$(dirname "$file")")")
  done
fi
[ ${#scenarios[@]} -gt 0 ] || die "no scenarios under molecule/"
# Each run: <scenario>, or <scenario>:<value> for one variant (all of them when none is named).
runs=()
for scenario in "${scenarios[@]}"; do
  name=${scenario%%:*}
  [ -f "molecule/$name/molecule.yml" ] || die "no scenario '$name'"
  variants=molecule/$name/variants
  if [ "$name" != "$scenario" ]; then
    [ -f "$variants" ] || die "scenario '$name' has no variants ($variants)"
    grep -Eq "^[A-Z_][A-Z0-9_]*=${scenario#*:}\$" "$variants" || die "no variant '${scenario#*:}' in $variants"
    runs+=("$scenario")
  elif [ -f "$variants" ]; then
    while IFS= read -r line; do
      runs+=("$name:${line#*=}")
    done < <(grep -Ev '^[[:space:]]*(#|$)' "$variants")
  else
    runs+=("$scenario")
  fi
done

# Build the local images once, before scenarios start side by side: Debian 12's (the lab DNS
# server's), and MOLECULE_PLATFORM's when another platform is chosen.
if [ -z "${MOLECULE_IMAGE:-}" ] && [ "${MOLECULE_CONTAINER_ENGINE:-podman}" = podman ]; then
  PLATFORMS="debian12${MOLECULE_PLATFORM:+ $MOLECULE_PLATFORM}" bash hacking/build-images.sh
fi

# Logs are read as text files.
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
platform=${MOLECULE_PLATFORM:-debian12}
if [ -n "${MOLECULE_LOGS:-}" ]; then
  logs=$MOLECULE_LOGS
else
  logs=.tmp/molecule-logs
  [ "$platform" = debian12 ] || logs=$logs-$platform
fi
rm -rf "$logs"
mkdir -p "$logs"

# A variant WEB_SERVER=<server> that the platform cannot run (Caddy on Ubuntu 22.04) is skipped,
# not run to fail: the roles refuse it there, which tests/roles/test_platform_check.py
# tests. The one list is plugins/module_utils/_platforms.py ("ubuntu2204" is Ubuntu 22.04).
unavailable=$(python3 - "$platform" <<'PYTHON'
import importlib.util
import sys

spec = importlib.util.spec_from_file_location("_platforms", "plugins/module_utils/_platforms.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
for platform in module.PLATFORMS:
    if (platform.distribution + platform.version.replace(".", "")).lower() == sys.argv[1]:
        for server, why in sorted(platform.unavailable.items()):
            print("%s\t%s" % (server, why))
PYTHON
)
kept=()
for run in "${runs[@]}"; do
  value=${run#*:}
  why=$(awk -F '\t' -v server="$value" '$1 == server { print $2 }' <<< "$unavailable")
  if [ "$value" != "$run" ] && [ -n "$why" ] && grep -qx "WEB_SERVER=$value" "molecule/${run%%:*}/variants"; then
    echo "molecule-all: SKIP $run on $platform: the roles refuse it there ($why)"
    echo "SKIP $run 0" >> "$logs/results.txt"
  else
    kept+=("$run")
  fi
done
runs=("${kept[@]}")
# Every run chosen skipped: nothing was tested, which is a failure, not a pass.
[ ${#runs[@]} -gt 0 ] || die "every run chosen was skipped on $platform: nothing tested"
# Longest first, by the seconds of a recorded run (molecule/durations.txt: "<run> <seconds>"
# lines; a run it does not list counts as the longest): the short runs start last, so the jobs
# end close together. The order changes nothing else.
if [ -f molecule/durations.txt ]; then
  mapfile -t runs < <(
    for run in "${runs[@]}"; do
      seconds=$(awk -v run="$run" '$1 == run { print $2 }' molecule/durations.txt)
      echo "${seconds:-999999} $run"
    done | sort -s -k1,1nr | cut -d' ' -f2)
fi
echo "molecule-all: ${#runs[@]} run(s) on $platform, $jobs at a time, logs in $logs/"

run_scenario() {
  local run=$1 start=$SECONDS scenario=${1%%:*} log=${1/:/-} variant=()
  if [ "$scenario" != "$run" ]; then
    # NAME=value from the scenario's variants file.
    variant=("$(grep -E "^[A-Z_][A-Z0-9_]*=${run#*:}\$" "molecule/$scenario/variants")")
  fi
  if env "${variant[@]}" bash hacking/molecule-one.sh "$scenario" > "$logs/$log.log" 2>&1; then
    echo "molecule-all: PASS $run ($((SECONDS - start)) s)"
    echo "PASS $run $((SECONDS - start))" >> "$logs/results.txt"
  else
    echo "molecule-all: FAIL $run ($((SECONDS - start)) s)"
    echo "FAIL $run $((SECONDS - start))" >> "$logs/results.txt"
    touch "$logs/$log.failed"
  fi
}
export -f run_scenario
export logs

start=$SECONDS
# shellcheck disable=SC2016  # $1 is expanded by the child shell, on purpose
printf '%s\n' "${runs[@]}" | xargs -P "$jobs" -I{} bash -c 'run_scenario "$1"' _ {}

shopt -s nullglob
failed=("$logs"/*.failed)
for marker in "${failed[@]}"; do
  log=${marker%.failed}.log
  echo
  echo "================ $(basename "$log" .log) failed: the errors, then the end of $log ================"
  grep -n -B 8 -A 25 -m 5 -E 'fatal: |\[ERROR\]|CRITICAL|FAILED!|UNREACHABLE!' "$log" || true
  echo "---------------- end of $log ----------------"
  tail -n 30 "$log"
done
echo "molecule-all: ${#runs[@]} run(s) on $platform, ${#failed[@]} failed, $((SECONDS - start)) s"
[ ${#failed[@]} -eq 0 ]
