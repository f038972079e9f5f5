#!/usr/bin/env bash
# Runs one Molecule scenario: hacking/molecule-one.sh <scenario> [molecule test options...]
#   hacking/molecule-one.sh e2e_wellknown
#   hacking/molecule-one.sh e2e_wellknown --destroy=never    # keep the lab to look around
# Other steps: run `molecule <step> -s <scenario>` from the collection root after this script
# has run once (it lays out the collection link Molecule needs).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "molecule-one: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 <scenario> [molecule test options...]"
scenario=$1
shift
if [ ! -f "molecule/$scenario/molecule.yml" ]; then
  shopt -s nullglob
  known=(molecule/*/molecule.yml)
  die "no scenario '$scenario' (molecule/$scenario/molecule.yml); known: $(printf '%s\n' "${known[@]}" | cut -d/ -f2 | tr '\n' ' ')"
fi

# shellcheck source=hacking/molecule-env.sh
source hacking/molecule-env.sh

if [ -z "${MOLECULE_IMAGE:-}" ] && [ "${MOLECULE_CONTAINER_ENGINE:-podman}" = podman ]; then
  for image in localhost/homeserver-delegation/debian12-systemd:latest \
               localhost/homeserver-delegation/debian12-bind:latest; do
    podman image exists "$image" ||
      die "image $image is missing: run hacking/build-images.sh (as root), or set MOLECULE_IMAGE"
  done
fi

exec molecule test -s "$scenario" "$@"
