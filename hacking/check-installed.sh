#!/usr/bin/env bash
# Proves that the collection installed from its tarball is usable: every plugin's documentation
# renders, every playbook parses when called by its FQCN from the installed copy, and the verify
# playbook runs from it.
set -euo pipefail
installed=$1
root="$installed/ansible_collections/homeserver/delegation"
[ -f "$root/MANIFEST.json" ] || { echo "check-installed: no installed collection at $root" >&2; exit 1; }
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
        ansible-doc -t filter "homeserver.delegation.$(basename "$doc" .yml)" > /dev/null
        count=$((count + 1))
      done
      break
    fi
    ansible-doc -t "$type" "homeserver.delegation.$name" > /dev/null
    count=$((count + 1))
  done
done
for playbook in "$root/playbooks"/*.yml; do
  [ -e "$playbook" ] || continue
  ansible-playbook --syntax-check "homeserver.delegation.$(basename "$playbook" .yml)" > /dev/null
  count=$((count + 1))
done
for role in "$root/roles"/*/; do
  [ -e "$role" ] || continue
  ansible-doc -t role "homeserver.delegation.$(basename "$role")" > /dev/null
  count=$((count + 1))
done
# One real run from the installed copy, offline and quick: the verify playbook's modules,
# module_utils and report filter load and report a refused port and an invalid name as failures.
report=$(ansible-playbook homeserver.delegation.verify \
  -e '{"server_names": ["127.0.0.1:9", "not a server name"], "fail_on_error": false}' 2>&1) ||
  { echo "$report"; echo "check-installed: the verify playbook failed from the installed copy" >&2; exit 1; }
for expected in "127.0.0.1:9: federation FAILS" "not a server name: federation FAILS" "invalid_server_name"; do
  grep -qF "$expected" <<< "$report" ||
    { echo "$report"; echo "check-installed: the verify report lacks '$expected'" >&2; exit 1; }
done
count=$((count + 1))
echo "check-installed: $count plugin docs, role docs, playbooks and a verify run usable from the installed copy"
[ "$count" -gt 0 ] || { echo "check-installed: nothing was checked" >&2; exit 1; }
