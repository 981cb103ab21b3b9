#!/usr/bin/env bash
# Makes the plugin header available to plugin builds through pkg-config.
#
#   scripts/plugin-dev.sh install [PREFIX]  headers -> PREFIX/include, .pc -> PREFIX/lib/pkgconfig
#                                           (PREFIX defaults to /usr/local)
#   scripts/plugin-dev.sh pc DIR            only writes speakerbridge-plugin.pc into DIR, pointing
#                                           at the header in this source tree; then build with
#                                           PKG_CONFIG_PATH=DIR
set -euo pipefail

# Everything is found relative to this script, so the checkout can live anywhere.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
api="$repo/PluginSDK/Sources/PluginAPI"
header="$api/include/speakerbridge_plugin.h"
template="$api/speakerbridge-plugin.pc.in"

usage() {
    sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

# pkg-config needs an absolute prefix; a relative one would be resolved against wherever the
# plugin is later built.
absolute() {
    case $1 in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s\n' "${PWD%/}/$1" ;;
    esac
}

# Writes the .pc for `prefix` to `out`. Plain bash substitution instead of sed, so a prefix with
# '|', '&' or '\' in it is copied as it is (the quotes keep bash 5.2 from treating '&' specially).
write_pc() {
    local prefix=$1 out=$2 template_text
    template_text=$(<"$template")
    printf '%s\n' "${template_text//@PREFIX@/"$prefix"}" >"$out"
}

[[ -f $header && -f $template ]] || { echo "plugin-dev.sh: cannot find $header or $template" >&2; exit 1; }

case ${1:-} in
    install)
        [[ $# -le 2 ]] || usage
        prefix=$(absolute "${2:-/usr/local}")
        install -d "$prefix/include" "$prefix/lib/pkgconfig"
        # The umbrella header and its parts (speakerbridge/core.h, host/, ext/), keeping the tree.
        (cd "$api/include" && find speakerbridge_plugin.h speakerbridge -name '*.h') | while read -r part; do
            install -D -m 0644 "$api/include/$part" "$prefix/include/$part"
        done
        # The header-only C helpers (outside the ABI) beside them, as <speakerbridge/helpers/…>.
        for helper in "$repo"/PluginSDK/helpers/speakerbridge/helpers/*.h; do
            if [[ -e $helper ]]; then
                install -D -m 0644 "$helper" "$prefix/include/speakerbridge/helpers/${helper##*/}"
            fi
        done
        echo "installed $prefix/include/speakerbridge_plugin.h and $prefix/include/speakerbridge/ (with helpers/)"
        write_pc "$prefix" "$prefix/lib/pkgconfig/speakerbridge-plugin.pc"
        chmod 0644 "$prefix/lib/pkgconfig/speakerbridge-plugin.pc"
        echo "installed $prefix/lib/pkgconfig/speakerbridge-plugin.pc (prefix=$prefix)"
        if [[ $prefix != /usr && $prefix != /usr/local ]]; then
            echo "pkg-config may not search there: export PKG_CONFIG_PATH=$prefix/lib/pkgconfig"
        fi
        ;;
    pc)
        [[ $# -eq 2 ]] || usage
        dir=$(absolute "$2")
        mkdir -p "$dir"
        # The template says includedir=${prefix}/include, and the header lives in
        # PluginSDK/Sources/PluginAPI/include, so PluginSDK/Sources/PluginAPI is the prefix.
        write_pc "$api" "$dir/speakerbridge-plugin.pc"
        echo "wrote $dir/speakerbridge-plugin.pc (prefix=$api)"
        echo "use it with: PKG_CONFIG_PATH=$dir pkg-config --cflags speakerbridge-plugin"
        ;;
    *)
        usage
        ;;
esac
