#!/bin/bash
# Creates (or reuses) the Python environment of the real Home Assistant the integration tests run.
#   scripts/ha-env.sh [DIR]    DIR defaults to $SB_TEST_HA_VENV, else out/ha-venv
# It installs exactly Tests/HomeAssistant/requirements.txt (the whole environment, pinned) with
# --no-deps into a Python 3.13 virtual environment, and reuses an existing one whose recorded hash
# (requirements file + Python version) still matches. Python 3.13 comes from $SB_TEST_HA_PYTHON,
# python3.13 on PATH, or pyenv's versions; without it this fails and says so (the tests need it).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
requirements="$root/Tests/HomeAssistant/requirements.txt"
venv="${1:-${SB_TEST_HA_VENV:-$root/out/ha-venv}}"

# A pyenv shim named python3.13 exists even when that version is not installed, so each candidate
# must actually run and report 3.13.
find_python() {
    local candidates=()
    [[ -n "${SB_TEST_HA_PYTHON:-}" ]] && candidates+=("$SB_TEST_HA_PYTHON")
    command -v python3.13 >/dev/null 2>&1 && candidates+=("$(command -v python3.13)")
    local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    for p in "$pyenv_root"/versions/3.13*/bin/python3.13; do
        [[ -x "$p" ]] && candidates+=("$p")
    done
    for p in "${candidates[@]}"; do
        if "$p" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

if ! python="$(find_python)"; then
    cat >&2 <<EOF
ha-env.sh: Python 3.13 was not found (tried \$SB_TEST_HA_PYTHON, python3.13 on PATH and
\${PYENV_ROOT:-~/.pyenv}/versions/3.13*). The Home Assistant tests need it: homeassistant 2025.4
requires Python 3.13. Install it (e.g. \`pyenv install 3.13.0\`) or point SB_TEST_HA_PYTHON at it.
EOF
    exit 1
fi

version="$("$python" -c 'import sys; print(sys.version.split()[0])')"
want="$( { cat "$requirements"; echo "python $version"; } | sha256sum | cut -d' ' -f1)"
stamp="$venv/.speakerbridge-requirements.sha256"

if [[ -x "$venv/bin/hass" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "ha-env: reusing $venv (Python $version, requirements unchanged)"
    exit 0
fi

echo "ha-env: installing Home Assistant into $venv (Python $version; a cold install takes a few minutes)"
# The stamp is written last: an interrupted install leaves no stamp and is redone from scratch.
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
start=$SECONDS
# --no-compile halves the install (measured: 30 s instead of 61 s with a warm pip cache); hass then
# writes byte code for what it imports on its first start (~11 s once, ~3 s after), which LabKit's
# HomeAssistant allows even where PYTHONDONTWRITEBYTECODE is set. Compiling everything here would
# cost more than that one slow start saves.
"$venv/bin/pip" install --quiet --no-deps --no-compile -r "$requirements"
# --no-deps trusts the file to be complete; pip check proves it is.
"$venv/bin/pip" check
echo "$want" > "$stamp"
echo "ha-env: installed in $((SECONDS - start)) s"
