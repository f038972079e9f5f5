#!/usr/bin/env bash
# Runs every Molecule scenario, every variant, on every platform (`make molecule-matrix`): for
# each platform of MATRIX_PLATFORMS, hacking/molecule-all.sh with MOLECULE_PLATFORM set (which
# builds the platform's images when they are missing), one platform after the other, going on
# after a failure. Prints and writes a table platform x run (.tmp/molecule-matrix.md: PASS or
# FAIL, seconds, date), ready for docs/molecule.md. Exits non-zero when any run failed.
#   hacking/molecule-matrix.sh                                  # as root: all five platforms
#   MATRIX_PLATFORMS="debian13 ubuntu2404" hacking/molecule-matrix.sh
#   MATRIX_PLATFORMS=ubuntu2204 MOLECULE_SCENARIOS="web:haproxy synapse" hacking/molecule-matrix.sh
# Each platform's logs stay in .tmp/molecule-logs[-<platform>]/ (hacking/molecule-all.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "molecule-matrix: $*" >&2; exit 1; }

all_platforms="debian12 debian13 ubuntu2204 ubuntu2404 ubuntu2604"
read -r -a platforms <<< "${MATRIX_PLATFORMS:-$all_platforms}"
[ ${#platforms[@]} -gt 0 ] || die "MATRIX_PLATFORMS is empty"
for platform in "${platforms[@]}"; do
  [[ " $all_platforms " == *" $platform "* ]] ||
    die "unknown platform '$platform' in MATRIX_PLATFORMS: choose from: $all_platforms"
done
[ -z "${MOLECULE_IMAGE:-}" ] ||
  die "MOLECULE_IMAGE is set: the matrix runs the local images of each platform; unset it"

out=.tmp/molecule-matrix.md
mkdir -p .tmp
start=$SECONDS
failed=0
for platform in "${platforms[@]}"; do
  echo "molecule-matrix: $platform"
  MOLECULE_PLATFORM=$platform bash hacking/molecule-all.sh || failed=1
done

logs_of() { if [ "$1" = debian12 ]; then echo .tmp/molecule-logs; else echo ".tmp/molecule-logs-$1"; fi; }
{
  echo "| Platform | Run | Result | Seconds | Date |"
  echo "|---|---|---|---|---|"
  for platform in "${platforms[@]}"; do
    results=$(logs_of "$platform")/results.txt
    if [ ! -s "$results" ]; then
      echo "| $platform | (none) | no run: see the output above | | $(date -u +%F) |"
      failed=1
      continue
    fi
    sort -k2 "$results" | while read -r result run seconds; do
      echo "| $platform | $run | $result | $seconds | $(date -u -r "$results" +%F) |"
    done
  done
} > "$out"
cat "$out"
echo "molecule-matrix: ${#platforms[@]} platform(s), $((SECONDS - start)) s in all; table in $out"
[ "$failed" = 0 ]
