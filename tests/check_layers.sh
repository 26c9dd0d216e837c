#!/bin/bash
# Fails on an #include that goes up or sideways between the layers of src/:
#
#   util < resolver < kernel < live      resolver < dump < history < api
#   util < diff < api (netnsctl uses diff too)
#
# The build already refuses such includes (each layer sees only the headers
# of the layers it uses: cmake/layers.cmake); this says which line broke the
# rule, and also catches an include the build would not see (a header no
# translation unit includes yet).
set -u
src=${1:?usage: check_layers.sh SRC_DIR}
declare -A may=(
  [util]="util"
  [resolver]="resolver util"
  [kernel]="kernel resolver util"
  [live]="live kernel resolver util"
  [dump]="dump resolver util"
  [history]="history dump resolver util"
  [diff]="diff util"
  [api]="api diff history dump resolver util"
)
bad=0
for layer in "${!may[@]}"; do
  [ -d "$src/$layer" ] || { echo "missing layer directory $src/$layer"; bad=1; continue; }
  while IFS=: read -r file line text; do
    target=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^/"]+)\/.*/\1/' <<<"$text")
    [ "$target" = "$text" ] && continue  # an include without a layer directory
    if [[ " ${may[$layer]} " != *" $target "* ]]; then
      echo "$file:$line: $layer may not include $target ($text)"
      bad=1
    fi
  done < <(grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$src/$layer"/*.h "$src/$layer"/*.cpp 2>/dev/null)
done
for dir in "$src"/*/; do
  name=$(basename "$dir")
  [ -n "${may[$name]:-}" ] || { echo "$dir: not a known layer (add it to check_layers.sh)"; bad=1; }
done
[ $bad -eq 0 ] && echo "layers: no include goes up or sideways"
exit $bad
