#!/usr/bin/env bash
# Proves that the collection installed from its tarball is usable: every plugin's documentation
# renders, every playbook parses when called by its FQCN from the installed copy, and the verify
# playbook runs from it.
set -euo pipefail
installed=$1
root="$installed/ansible_collections/homeserver/delegation"
[ -f "$root/MANIFEST.json" ] || { echo "check-installed: no installed collection at $root" >&2; exit 1; }
export ANSIBLE_NOCOLOR=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# ansible-doc exits 0 with only a warning for a plugin or role it cannot load, on every
# ansible-core version: the page must render, name the plugin, point into the installed copy,
# and no warning may concern the collection (such as "does not support Ansible version", when
# meta/runtime.yml's requires_ansible excludes the running ansible-core).
doc() {
  local type=$1 name=$2
  if ! ansible-doc -t "$type" "$name" > "$scratch/doc" 2> "$scratch/stderr"; then
    cat "$scratch/stderr"
    echo "check-installed: ansible-doc -t $type $name failed" >&2; exit 1
  fi
  if ! head -n 1 "$scratch/doc" | grep -qiF "$name" || ! head -n 1 "$scratch/doc" | grep -qF "$root"; then
    cat "$scratch/doc" "$scratch/stderr"
    echo "check-installed: ansible-doc -t $type $name did not show its page from $root" >&2; exit 1
  fi
  collection_warnings "ansible-doc -t $type $name"
}

# Fails on a warning that names the collection in $scratch/stderr.
collection_warnings() {
  if grep -A 3 -E '\[(WARNING|DEPRECATION WARNING|ERROR)\]' "$scratch/stderr" | grep -q 'homeserver[.]delegation'; then
    cat "$scratch/stderr"
    echo "check-installed: $1 warned about the collection" >&2; exit 1
  fi
}

count=0
for type in lookup filter module; do
  dir=$type; [ "$type" = module ] && dir=modules
  for f in "$root/plugins/$dir"/*.py; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .py)
    [ "$name" = __init__ ] && continue
    if [ "$type" = filter ]; then
      # Filter files are plugin containers; each documented filter has a sidecar YAML.
      for doc in "$root/plugins/filter"/*.yml; do
        [ -e "$doc" ] || continue
        doc filter "homeserver.delegation.$(basename "$doc" .yml)"
        count=$((count + 1))
      done
      break
    fi
    doc "$type" "homeserver.delegation.$name"
    count=$((count + 1))
  done
done
for playbook in "$root/playbooks"/*.yml; do
  [ -e "$playbook" ] || continue
  name=homeserver.delegation.$(basename "$playbook" .yml)
  ansible-playbook --syntax-check "$name" > /dev/null 2> "$scratch/stderr" ||
    { cat "$scratch/stderr"; echo "check-installed: ansible-playbook --syntax-check $name failed" >&2; exit 1; }
  collection_warnings "ansible-playbook --syntax-check $name"
  count=$((count + 1))
done
for role in "$root/roles"/*/; do
  [ -e "$role" ] || continue
  doc role "homeserver.delegation.$(basename "$role")"
  count=$((count + 1))
done
# One real run from the installed copy, offline and quick: the verify playbook's modules,
# module_utils and report filter load and report a refused port and an invalid name as failures.
report=$(ansible-playbook homeserver.delegation.verify \
  -e '{"server_names": ["127.0.0.1:9", "not a server name"], "fail_on_error": false}' 2> "$scratch/stderr") ||
  { echo "$report"; cat "$scratch/stderr"; echo "check-installed: the verify playbook failed from the installed copy" >&2; exit 1; }
collection_warnings "the verify playbook"
for expected in "127.0.0.1:9: federation FAILS" "not a server name: federation FAILS" "invalid_server_name"; do
  grep -qF "$expected" <<< "$report" ||
    { echo "$report"; echo "check-installed: the verify report lacks '$expected'" >&2; exit 1; }
done
count=$((count + 1))
echo "check-installed: $count plugin docs, role docs, playbooks and a verify run usable from the installed copy"
[ "$count" -gt 0 ] || { echo "check-installed: nothing was checked" >&2; exit 1; }
