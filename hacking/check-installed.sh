#!/usr/bin/env bash
# Proves that the collection installed from its tarball is usable: every plugin's documentation
# renders, and every playbook parses when called by its FQCN from the installed copy.
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
echo "check-installed: $count plugin docs, role docs and playbooks usable from the installed copy"
[ "$count" -gt 0 ] || { echo "check-installed: nothing was checked" >&2; exit 1; }
