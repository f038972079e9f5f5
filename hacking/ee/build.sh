#!/usr/bin/env bash
# `make ee`: builds the collection's execution environment (EE) with ansible-builder and podman,
# and proves it works: the verify playbook runs inside the image with ansible-runner against the
# demo lab (molecule/demo) and must report `federation OK` for example.test.
#
#   hacking/ee/build.sh            # base image, EE image, demo lab, verify run inside the EE
#   hacking/ee/build.sh image      # base image and EE image only
#   hacking/ee/build.sh context    # `ansible-builder create` and introspection only: no image,
#                                  # no container (what CI checks, in seconds)
#
# Steps: the collection tarball (`ansible-galaxy collection build`), laid out next to
# hacking/ee/execution-environment.yml and a requirements.yml naming it; the base image
# (hacking/ee/base.Containerfile: Debian 12, Python, pip), built locally; `ansible-builder build`,
# which installs ansible-core and ansible-runner from PyPI, the collection from the tarball, and
# what the collection's requirements.txt and bindep.txt name. Then the demo lab: reused when it
# is already up (`make demo`) and left up; otherwise created, converged, and removed at the end.
# Everything lands in .tmp/ee/: the definition, the build context, build.log, lab.log, the
# ansible-runner private data directory (runner/, with the report) and verify.log.
#
# Environment:
#   EE_IMAGE            the image to build (localhost/homeserver-delegation/ee:latest)
#   EE_BASE_FROM        what the base image starts from (the local Debian 12 image of
#                       hacking/build-images.sh); e.g. docker.io/library/debian:bookworm
#   EE_HOST_CA_BUNDLE   the CA bundle pip trusts inside the build (/etc/ssl/certs/ca-certificates.crt;
#                       empty: pip's own, for a machine without a re-signing proxy)
#   VENV                the virtualenv with ansible-builder and molecule (.venv)
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { echo "ee: $*"; }
die() { echo "ee: $*" >&2; exit 1; }

mode=${1:-all}
case "$mode" in
  all | image | context) ;;
  *) die "usage: $0 [image|context]" ;;
esac

# The EE runs on the demo lab's podman network: the lab must be on podman too.
if [ "$mode" = all ] && [ "${MOLECULE_CONTAINER_ENGINE:-podman}" != podman ]; then
  die "MOLECULE_CONTAINER_ENGINE=$MOLECULE_CONTAINER_ENGINE: the EE runs on the demo lab's network, which must be podman's"
fi

ee_image=${EE_IMAGE:-localhost/homeserver-delegation/ee:latest}
base_image=localhost/homeserver-delegation/ee-base:latest
base_from=${EE_BASE_FROM:-localhost/homeserver-delegation/debian12-systemd:latest}
host_ca_bundle=${EE_HOST_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
out=$PWD/.tmp/ee
definition=$out/definition
context=$out/context
# What the collection's meta/execution-environment.yml must bring into every EE.
expected_python=(dnspython)
expected_system=(python3 ca-certificates)

venv=${VENV:-$PWD/.venv}
if [ -x "$venv/bin/ansible-builder" ]; then
  PATH=$(cd "$venv" && pwd)/bin:$PATH
  export PATH
fi
for tool in ansible-galaxy ansible-builder; do
  command -v "$tool" >/dev/null ||
    die "$tool is missing: run 'make venv' (requirements-dev.txt has it) or set VENV=<virtualenv>"
done
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1

# The definition directory: the EE definition, the collection tarball, a requirements.yml that
# installs the collection from the tarball (Galaxy is never asked).
stage() {
  rm -rf "$definition" "$context"
  mkdir -p "$definition"
  ansible-galaxy collection build --output-path "$definition" . > /dev/null
  local tarballs=("$definition"/homeserver-delegation-*.tar.gz)
  if [ ${#tarballs[@]} -ne 1 ] || [ ! -f "${tarballs[0]}" ]; then
    die "expected one collection tarball in $definition"
  fi
  tarball=$(basename "${tarballs[0]}")
  cp hacking/ee/execution-environment.yml "$definition/"
  cat > "$definition/requirements.yml" <<EOF
---
# Written by hacking/ee/build.sh: the collection from its tarball, which the EE definition's
# additional_build_files put into the build context's collections/ directory.
collections:
  - name: collections/$tarball
    type: file
EOF
  log "collection tarball $tarball"
}

# `ansible-builder create` must accept the definition and lay out a complete build context; the
# collection installed from the tarball must declare the dependencies (introspection reads its
# meta/execution-environment.yml, requirements.txt and bindep.txt, as the build does).
check_context() {
  ansible-builder create -f "$definition/execution-environment.yml" -c "$context" > "$out/create.log" 2>&1 ||
    { cat "$out/create.log" >&2; die "ansible-builder create refused hacking/ee/execution-environment.yml"; }
  local containerfile=$context/Containerfile
  [ -f "$containerfile" ] || die "ansible-builder create wrote no $containerfile"
  [ -f "$context/_build/collections/$tarball" ] || die "the build context lacks _build/collections/$tarball"
  grep -qF "collections/$tarball" "$context/_build/requirements.yml" ||
    die "the build context's requirements.yml does not name collections/$tarball"
  local step
  for step in "FROM \$EE_BASE_IMAGE AS base" "ARG EE_BASE_IMAGE=\"$base_image\"" "ARG PKGMGR=\"/usr/bin/apt-get\"" \
      "ansible-galaxy collection install" "introspect.py introspect" "/output/scripts/assemble" \
      "/output/scripts/install-from-bindep" "/output/scripts/check_ansible" "RUN rm -f /etc/pip.conf"; do
    grep -qF -- "$step" "$containerfile" || die "the Containerfile lacks '$step' (see $containerfile)"
  done
  for step in "ansible-core>=2.19,<2.20" "ansible-runner>=2.4,<2.5"; do
    grep -qF -- "$step" "$containerfile" || die "the Containerfile does not install $step"
  done

  local installed=$out/introspect
  rm -rf "$installed"
  ANSIBLE_COLLECTIONS_PATH=$installed ansible-galaxy collection install --offline --force -p "$installed" "$definition/$tarball" > /dev/null
  ansible-builder introspect --sanitize "$installed" > "$out/introspect.txt" 2>&1 ||
    { cat "$out/introspect.txt" >&2; die "ansible-builder introspect failed on the installed collection"; }
  local name
  for name in "${expected_python[@]}"; do
    python3 - "$out/introspect.txt" "$name" python <<'EOF' || die "introspection lists no Python package $name (see $out/introspect.txt)"
import sys, yaml
data = yaml.safe_load(open(sys.argv[1]))
entries = data.get(sys.argv[3]) or []
sys.exit(0 if any(e.split()[0].lower().startswith(sys.argv[2].lower()) and "homeserver.delegation" in e for e in entries) else 1)
EOF
  done
  for name in "${expected_system[@]}"; do
    python3 - "$out/introspect.txt" "$name" system <<'EOF' || die "introspection lists no system package $name (see $out/introspect.txt)"
import sys, yaml
data = yaml.safe_load(open(sys.argv[1]))
entries = data.get(sys.argv[3]) or []
sys.exit(0 if any(e.split()[0] == sys.argv[2] and "homeserver.delegation" in e for e in entries) else 1)
EOF
  done
  log "ansible-builder create: build context in $context; introspection of the installed collection:"
  sed 's/^/  /' "$out/introspect.txt"
}

build_images() {
  command -v podman >/dev/null || die "podman is missing: run 'make host' (hacking/prepare-host.sh)"
  if [ -z "${EE_BASE_FROM:-}" ] && ! podman image exists "$base_from"; then
    die "image $base_from is missing: run 'make host' (hacking/build-images.sh builds it), or set EE_BASE_FROM"
  fi
  local started=$SECONDS
  log "building $base_image from $base_from"
  podman build --quiet --tag "$base_image" --build-arg "EE_BASE_FROM=$base_from" \
    --file hacking/ee/base.Containerfile hacking/ee > /dev/null
  log "base image: $((SECONDS - started)) s"

  started=$SECONDS
  local ca_args=()
  if [ -n "$host_ca_bundle" ]; then
    [ -f "$host_ca_bundle" ] || die "EE_HOST_CA_BUNDLE=$host_ca_bundle is no file"
    ca_args=(--build-arg "PIP_CERT=/etc/ssl/certs/host-ca.crt"
             "--extra-build-cli-args=--volume $host_ca_bundle:/etc/ssl/certs/host-ca.crt:ro")
  fi
  log "ansible-builder build -t $ee_image (log: $out/build.log)"
  ansible-builder build -v 3 -f "$definition/execution-environment.yml" -c "$context" \
    -t "$ee_image" --container-runtime podman "${ca_args[@]}" > "$out/build.log" 2>&1 ||
    { tail -n 40 "$out/build.log" >&2; die "ansible-builder build failed (see $out/build.log)"; }
  log "ansible-builder build: $((SECONDS - started)) s"
  # What the image holds, as its own tools say.
  podman run --rm "$ee_image" sh -c \
    'ansible --version | head -n 1; ansible-runner --version | sed "s/^/ansible-runner /";
     ansible-galaxy collection list homeserver.delegation 2>/dev/null | grep "^homeserver";
     python3 -m pip list 2>/dev/null | grep -E "^dnspython "' | sed 's/^/  /'
}

# The demo lab of `make demo`: example.test delegated by its web server's well-known to
# matrix.example.test:443, a real Synapse, the lab DNS server and test CA.
lab_created=0
lab_down() {
  [ "$lab_created" = 1 ] || return 0
  log "removing the demo lab"
  molecule destroy -s demo >> "$out/lab.log" 2>&1 || echo "ee: molecule destroy failed (see $out/lab.log)" >&2
  molecule reset -s demo >> "$out/lab.log" 2>&1 || true
}

lab_up() {
  # shellcheck source=hacking/molecule-env.sh
  source hacking/molecule-env.sh
  local image
  if [ -z "${MOLECULE_IMAGE:-}" ]; then
    for image in localhost/homeserver-delegation/debian12-systemd:latest \
                 localhost/homeserver-delegation/debian12-bind:latest \
                 localhost/homeserver-delegation/debian12-synapse:latest; do
      podman image exists "$image" || die "image $image is missing: run 'make host' (hacking/build-images.sh), or set MOLECULE_IMAGE"
    done
  fi
  # Names as molecule/resources/vars/lab.yml makes them for this checkout.
  lab_prefix="molecule-$(printf %s "$PWD" | sha1sum | cut -c1-4)-demo"
  if [ "$(podman inspect --format '{{.State.Running}}' "$lab_prefix-web" 2>/dev/null)" = true ]; then
    log "the demo lab is up ($lab_prefix-*): used as it is, and left up"
  else
    lab_created=1
    local started=$SECONDS
    log "starting the demo lab (molecule create, prepare, converge -s demo; log: $out/lab.log)"
    : > "$out/lab.log"
    local step
    for step in create prepare converge; do
      molecule "$step" -s demo >> "$out/lab.log" 2>&1 ||
        { tail -n 40 "$out/lab.log" >&2; die "molecule $step -s demo failed (see $out/lab.log)"; }
    done
    log "demo lab: $((SECONDS - started)) s"
  fi
  lab_network=$lab_prefix
  lab_dns=$(podman inspect --format "{{(index .NetworkSettings.Networks \"$lab_network\").IPAddress}}" "$lab_prefix-dns")
  [ -n "$lab_dns" ] || die "the lab DNS server $lab_prefix-dns has no address on $lab_network"
}

# ansible-runner inside the EE, as the image's own user, with the lab's network, DNS server and
# CA: the way AWX runs a job, a private data directory mounted at /runner.
run_verify() {
  local runner=$out/runner
  rm -rf "$runner"
  mkdir -p "$runner/env" "$runner/inventory" "$runner/project"
  # The test CA every lab host trusts: what verify passes as ca_path.
  podman cp "$lab_prefix-web:/usr/local/share/ca-certificates/homeserver-delegation-lab.crt" "$runner/lab-ca.crt"
  cat > "$runner/env/extravars" <<EOF
---
server_names: [example.test]
nameservers: ["$lab_dns"]
dns_port: 53
ca_path: /runner/lab-ca.crt
report_dir: /runner/report
EOF
  # The output is read as text: no colours (ansible-runner gives ansible-playbook a terminal).
  printf -- '---\nANSIBLE_NOCOLOR: "1"\n' > "$runner/env/envvars"
  cat > "$runner/inventory/hosts" <<'EOF'
localhost ansible_connection=local ansible_python_interpreter="{{ ansible_playbook_python }}"
EOF
  # The image runs as uid 1000, group 0 (as on OpenShift): the directory must be its own.
  chown -R 1000:0 "$runner"
  local started=$SECONDS
  log "podman run $ee_image ansible-runner run /runner -p homeserver.delegation.verify (network $lab_network, DNS $lab_dns)"
  local rc=0
  podman run --rm --network "$lab_network" --dns "$lab_dns" --volume "$runner:/runner" "$ee_image" \
    ansible-runner run /runner -p homeserver.delegation.verify 2>&1 | tee "$out/verify.log" || rc=$?
  log "verify run in the EE: $((SECONDS - started)) s"
  [ "$rc" -eq 0 ] || die "ansible-runner in the EE failed (exit $rc; see $out/verify.log and $runner/artifacts)"
  grep -qF "example.test: federation OK" "$out/verify.log" ||
    die "the verify report of the EE run lacks 'example.test: federation OK' (see $out/verify.log)"
  python3 -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["federation_ok"] is True else 1)' \
    "$runner/report/federation-report.json" ||
    die "the EE run's report says federation does not work (see $runner/report/federation-report.md)"
  log "federation OK for example.test, verified by the collection installed in $ee_image"
}

mkdir -p "$out"
start=$SECONDS
stage
check_context
if [ "$mode" = context ]; then
  exit 0
fi
build_images
if [ "$mode" = image ]; then
  log "done in $((SECONDS - start)) s"
  exit 0
fi
# The lab goes away however the script ends: success, failure, Ctrl-C or termination.
trap lab_down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
lab_up
run_verify
log "done in $((SECONDS - start)) s"
