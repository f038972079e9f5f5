#!/usr/bin/env bash
# `make demo`: starts the demo lab on the Molecule infrastructure (scenario molecule/demo: the
# base domain's web server example.test, Synapse from PyPI at matrix.example.test, the lab DNS
# server and test CA), runs the delegate playbook against it twice, prints the verification
# report, and fails unless the second run changed nothing. The lab stays up for a look around;
# `make demo-clean` (hacking/demo.sh clean) removes it.
#   hacking/demo.sh           # create or reuse the lab, converge twice, report
#   hacking/demo.sh clean     # remove the lab's containers, network and files
#   DEMO_PLATFORM=ubuntu2404 hacking/demo.sh         # the lab's hosts on another platform
#   DEMO_PLATFORM=ubuntu2404 hacking/demo.sh clean   # removes that platform's lab
# Environment: DEMO_PLATFORM (default debian12; debian13, ubuntu2204, ubuntu2404, ubuntu2604:
# the local images of hacking/build-images.sh, built when missing), MOLECULE_IMAGE,
# MOLECULE_CONTAINER_ENGINE... as in docs/molecule.md.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "demo: $*" >&2; exit 1; }
scenario=demo
out=$PWD/.tmp/demo
# Another platform is a lab of its own (containers, network, Molecule state, report), beside
# Debian 12's, as hacking/molecule-one.sh makes one per platform.
platform=${DEMO_PLATFORM:-debian12}
[[ "$platform" =~ ^[a-z0-9]+$ ]] || die "DEMO_PLATFORM must be a platform name such as debian13, got '$platform'"
export MOLECULE_PLATFORM=$platform
unset MOLECULE_LAB_VARIANT MOLECULE_EPHEMERAL_DIRECTORY
if [ "$platform" != debian12 ]; then
  out=$out-$platform
  export MOLECULE_LAB_VARIANT=$platform
  checkout=$(printf '%s' "$PWD" | sha1sum | cut -c1-8)
  export MOLECULE_EPHEMERAL_DIRECTORY="${HOME}/.ansible/tmp/molecule.$checkout.$scenario-$platform"
fi

# shellcheck source=hacking/molecule-env.sh
source hacking/molecule-env.sh
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1

if [ "${1:-}" = clean ]; then
  molecule destroy -s "$scenario"
  # Molecule's own state and inventory of the scenario (~/.ansible/tmp/molecule.*.demo).
  molecule reset -s "$scenario"
  rm -rf "$out"
  echo "demo: lab removed ($platform)"
  exit 0
fi
[ $# -eq 0 ] || die "usage: $0 [clean]"

if [ -z "${MOLECULE_IMAGE:-}" ] && [ "${MOLECULE_CONTAINER_ENGINE:-podman}" = podman ]; then
  # Debian 12's for the lab DNS server, and the platform's (build-images.sh refuses an unknown one).
  PLATFORMS="debian12 $platform" bash hacking/build-images.sh
fi
echo "demo: the lab's hosts run $platform"

# The report directory is kept: a second `make demo` rewrites nothing, there either.
mkdir -p "$out/report"
rm -f "$out"/converge-*.log
export DEMO_REPORT_DIR=$out/report
start=$SECONDS

# create and prepare do nothing when the lab is already up (Molecule keeps its state).
molecule create -s "$scenario"
molecule prepare -s "$scenario"
lab_seconds=$((SECONDS - start))

converge() {  # converge <n>: one run of the delegate playbook, its output kept in converge-<n>.log
  local started=$SECONDS
  echo "demo: run $1 of the delegate playbook (log: $out/converge-$1.log)"
  molecule converge -s "$scenario" 2>&1 | tee "$out/converge-$1.log"
  echo "demo: run $1 took $((SECONDS - started)) s"
}
converge 1
first_seconds=$((SECONDS - start - lab_seconds))
converge 2
second_seconds=$((SECONDS - start - lab_seconds - first_seconds))

recap=$(sed -n '/^PLAY RECAP/,/^$/p' "$out/converge-2.log")
echo
echo "================ Verification report (second run) ================"
cat "$out/report/federation-report.md"
echo
echo "================ Recap of the second run ================"
echo "$recap"
echo "demo: lab ${lab_seconds} s, first run ${first_seconds} s, second run ${second_seconds} s"
[ -n "$recap" ] || die "no PLAY RECAP in $out/converge-2.log"
if grep -Eq 'changed=[1-9]' <<< "$recap"; then
  die "the second run changed something: the playbook is not idempotent (see $out/converge-2.log)"
fi
python3 -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["federation_ok"] is True else 1)' \
  "$out/report/federation-report.json" ||
  die "federation does not work in the lab (see $out/report/federation-report.md)"
echo "demo: federation works, and the second run changed nothing."
engine=${MOLECULE_CONTAINER_ENGINE:-podman}
echo "demo: the lab's containers (look around with '$engine exec -it <name> bash'):"
# The lab's label, as molecule/resources/vars/lab.yml names it after this checkout.
lab="molecule-$(printf %s "$PWD" | sha1sum | cut -c1-4)-$scenario${MOLECULE_LAB_VARIANT:+-$MOLECULE_LAB_VARIANT}"
"$engine" ps --filter "label=homeserver-delegation.molecule.lab=$lab" --format '  {{.Names}}'
echo "demo: remove the lab with '${DEMO_PLATFORM:+DEMO_PLATFORM=$platform }make demo-clean'"
