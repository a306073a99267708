#!/usr/bin/env bash
# Checks that the tree's includes only go down: each directory below may include its own headers
# and those of directories in lower layers, never a sibling's of the same layer or a higher one.
# A cycle is then impossible, and the layering is the architecture README.md describes. Run by
# ctest (Layers.IncludesOnlyGoDown); a new top-level directory must be given its layer here.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A layer=(
  [common]=0
  [crypto]=1 [plist]=1 [store]=1 [console]=1
  [pki]=2 [protocol]=2 [eventlog]=2
  [schemas]=3 [devsim]=3
  [projector]=4
  [dispatcher]=5 [ingest]=5
  [enrollment]=6 [webhook]=6 [audit]=6
  [ade]=7
  [http]=8
  [app]=9
  [cli]=10
)
status=0
for dir in "${!layer[@]}"; do
  while IFS=: read -r file _ target; do
    target=${target#*\"}
    target=${target%%/*}
    [ "$target" = "$dir" ] && continue
    if [ -z "${layer[$target]+x}" ]; then
      continue  # not a directory of ours (a library's header with a slash)
    fi
    if ((layer[$target] >= layer[$dir])); then
      echo "$file includes $target/ (layer ${layer[$target]}) from $dir/ (layer ${layer[$dir]})"
      status=1
    fi
  done < <(grep -rnE '^#include "[a-z_]+/' "$dir" --include='*.cpp' --include='*.hpp' || true)
done
for d in */; do
  d=${d%/}
  case "$d" in bench | tests | ops | build* | docs) continue ;; esac
  if [ -z "${layer[$d]+x}" ] && compgen -G "$d/*.[ch]pp" >/dev/null; then
    echo "$d/ has C++ sources but no layer in ops/check_layers.sh"
    status=1
  fi
done
exit $status
