#!/usr/bin/env bash
# Prints what modules need on the host, from modules/<id>/packages.txt (the one place each module
# declares it). Used by scripts/install.sh and scripts/provision-test-host.sh.
#   module-packages.sh [--groups|--paths] [ID...]   packages (or the `@group` names, or the `@rw`
#                                           paths), one a line, sorted; no ID: every module
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
want=packages
case ${1:-} in
  --groups) want=groups; shift ;;
  --paths) want=paths; shift ;;
esac
ids=("$@")
if ((${#ids[@]} == 0)); then
  for d in "$root"/modules/*/; do ids+=("$(basename "$d")"); done
fi
for id in "${ids[@]}"; do
  [[ $id =~ ^[a-z0-9]+$ ]] || { echo "module-packages: bad module id: $id" >&2; exit 2; }
  f="$root/modules/$id/packages.txt"
  [ -d "$root/modules/$id" ] || { echo "module-packages: no module $id" >&2; exit 2; }
  [ -f "$f" ] || continue
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%%#*}
    read -r -a words <<<"$line"
    ((${#words[@]})) || continue
    if [ "${words[0]}" = @group ]; then
      [ "$want" != groups ] || printf '%s\n' "${words[@]:1}"
    elif [ "${words[0]}" = @rw ]; then
      [ "$want" != paths ] || printf '%s\n' "${words[@]:1}"
    elif [ "$want" = packages ]; then
      printf '%s\n' "${words[@]}"
    fi
  done <"$f"
done | sort -u
