#!/bin/sh
# Checks the module layers: every sn_* symbol a module's object uses but does not define must be
# defined by a module of a lower layer. Usage: layers.sh LAYERS_FILE OBJECT_DIR
# Exits 1 naming every call that goes sideways or up, and every module the file does not place.
set -eu
layers=$1
objects=$2
failed=0

# "module layer" per line, from the layers file (comments and blank lines skipped).
table=$(awk '!/^#/ && NF { for (i = 1; i <= NF; i++) print $i, NR }' "$layers")
layer_of() { printf '%s\n' "$table" | awk -v m="$1" '$1 == m { print $2 }'; }

# "symbol module" for every sn_* symbol some module defines.
defined=$(for o in "$objects"/*.o; do
    m=$(basename "$o" .o)
    [ -n "$(layer_of "$m")" ] || continue
    nm --defined-only "$o" | awk -v m="$m" '$2 ~ /^[TDRB]$/ && $3 ~ /^sn_/ { print $3, m }'
done)

for src in "$(dirname "$layers")"/../*.c; do
    m=$(basename "$src" .c)
    level=$(layer_of "$m")
    if [ -z "$level" ]; then
        echo "layers: $m.c is in no layer of $(basename "$layers")"
        failed=1
        continue
    fi
    for sym in $(nm -u "$objects/$m.o" | awk '$2 ~ /^sn_/ { print $2 }'); do
        owner=$(printf '%s\n' "$defined" | awk -v s="$sym" '$1 == s { print $2; exit }')
        [ -n "$owner" ] || continue
        if [ "$(layer_of "$owner")" -ge "$level" ]; then
            echo "layers: $m calls $sym of $owner, which is not below it"
            failed=1
        fi
    done
done
[ "$failed" -eq 0 ] && echo "layers: every module calls only the layers below it"
exit "$failed"
