#!/bin/sh
# Render units/<kind>/*.in into DEST: the shell twin of the CLI installer's
# renderer, used by build-deb.sh and by the system tests.
#   render-units.sh user|system DEST KEY=VALUE...
# Keys are the placeholders of units/README.md without the @s (UNIT,
# DESCRIPTION, EXEC, ARGS, BIND, PORT, STATE_DIR, TOKEN_FILE, WANTED_BY, USER).
# Fails when a placeholder is left unrendered.
set -eu
kind=$1 dest=$2
shift 2
src=$(cd "$(dirname "$0")/../units/$kind" && pwd)
script=""
unit=openclaw-gateway
for kv in "$@"; do
    key=${kv%%=*} value=${kv#*=}
    [ "$key" = UNIT ] && unit=$value
    # Escape what sed's replacement would interpret: \ & and the | delimiter.
    value=$(printf '%s' "$value" | sed -e 's/[\\&|]/\\&/g')
    script="$script;s|@$key@|$value|g"
done
mkdir -p "$dest"
for f in "$src"/*.in; do
    base=$(basename "$f" .in)
    out="$dest/$unit.${base##*.}"
    sed -e "${script#;}" "$f" > "$out"
    if grep -n '@[A-Z_]*@' "$out" >&2; then
        echo "render-units.sh: unrendered placeholder in $out" >&2
        exit 1
    fi
done
