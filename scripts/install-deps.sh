#!/bin/bash
# Installs what speakerbridge needs on Debian 12 (as root through apt-get); otherwise says what is missing.
#   scripts/install-deps.sh         the daemon: libmosquitto, the mosquitto broker (embedded default broker)
#   scripts/install-deps.sh test    plus what the test suite, benchmarks and `make demo` use: clients, openssl,
#                                   iproute2, and the speaker lab's real UPnP renderer (gmediarender with the
#                                   GStreamer plugins its recording pipeline uses: audioconvert/audioresample
#                                   from -base, filesink from core, souphttpsrc from -good) and python3
#                                   (the lab's stream server, GENA listener and M-SEARCH probe, and
#                                   scripts/folder-deps.py, the host folders' layering check), and g++ (the
#                                   plugin header is checked as C++ too), libturbojpeg0 (the real Home
#                                   Assistant of the integration tests loads it; its Python 3.13 venv is
#                                   scripts/ha-env.sh's job), and Debian's Chromium with its chromedriver
#                                   (the status page's test drives them in a network namespace of their own),
#                                   and nats-server (an MQTT 3.1.1-only broker for the protocol fallback's
#                                   tests; its boot entry disabled: the tests start their own)
#   scripts/install-deps.sh image   plus what `make image` and `make image-test` use: podman and buildah (the
#                                   build and the smoke test), mmdebstrap (the Debian base image when no
#                                   registry is reachable), runc (crun fails on kernels with hybrid cgroups),
#                                   and the smoke test's checks: mosquitto_sub, curl, espeak-ng and soxi
#   scripts/install-deps.sh brokers [VENV]
#                                   plus the other brokers `make test-brokers` runs the daemon against:
#                                   Debian's rabbitmq-server (with its rabbitmq_mqtt plugin) and nats-server,
#                                   their boot entries disabled (the tests start their own nodes as plain
#                                   processes on 127.0.0.1), and amqtt 0.12.1 from PyPI in a Python venv
#                                   (VENV, default out/amqtt-venv; reused while it has that version)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"

packages=(libmosquitto-dev mosquitto libffi-dev libespeak-ng-dev espeak-ng-data gcc make pkg-config)
if [[ "${1:-}" == "test" ]]; then
    packages+=(mosquitto-clients openssl iproute2 procps espeak-ng sox curl
               gmediarender gstreamer1.0-plugins-base gstreamer1.0-plugins-good python3 g++
               libturbojpeg0 chromium chromium-driver nats-server)
fi
if [[ "${1:-}" == "brokers" ]]; then
    packages+=(mosquitto-clients rabbitmq-server nats-server python3)
fi
if [[ "${1:-}" == "image" ]]; then
    packages+=(podman buildah mmdebstrap runc mosquitto-clients curl espeak-ng sox)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        echo "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # policy-rc.d keeps Debian from starting the system mosquitto and gmediarender services: the
        # daemon and the tests start their own brokers and speakers, on their own ports and networks.
        if [[ ! -e /usr/sbin/policy-rc.d ]]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
            trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        fi
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        # gmediarender ships a boot-time service that would advertise a renderer on the real LAN.
        # Only the tests' and the demo's own instances, inside network namespaces, may run.
        if [[ " ${missing[*]} " == *" gmediarender "* ]] && command -v update-rc.d >/dev/null; then
            update-rc.d gmediarender disable >/dev/null 2>&1 || true
        fi
    else
        echo "missing packages: ${missing[*]}" >&2
        echo "install them with: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

if ! command -v swift >/dev/null; then
    echo "swift (6.0 or newer) is not on PATH; install a Swift toolchain from swift.org" >&2
    exit 1
fi

# The broker packages enable boot entries (nats-server; rabbitmq-server and epmd's service and
# socket, which erlang-base brings along); policy-rc.d only kept them from starting now. Nothing of
# theirs may run on this machine but the tests' own nodes, so they are disabled, every time (cheap,
# and it catches an install made by hand). Without systemd, systemctl may be missing or refuse.
if [[ "${1:-}" == "test" || "${1:-}" == "brokers" ]] && [[ $(id -u) -eq 0 ]]; then
    entries=(nats-server)
    [[ "${1:-}" == "brokers" ]] && entries+=(rabbitmq-server epmd.service epmd.socket)
    systemctl disable "${entries[@]}" >/dev/null 2>&1 || true
    if command -v update-rc.d >/dev/null; then
        for service in rabbitmq-server nats-server; do
            [[ -e /etc/init.d/$service ]] && { update-rc.d "$service" disable >/dev/null 2>&1 || true; }
        done
    fi
fi

if [[ "${1:-}" == "brokers" ]]; then

    venv="${2:-${SB_TEST_AMQTT_VENV:-$root/out/amqtt-venv}}"
    amqtt_version=0.12.1
    stamp="$venv/.speakerbridge-amqtt"
    if [[ -x "$venv/bin/amqtt" && "$(cat "$stamp" 2>/dev/null)" == "amqtt==$amqtt_version" ]]; then
        exit 0
    fi
    echo "installing amqtt $amqtt_version into $venv"
    # The stamp is written last: an interrupted install leaves none and is redone from scratch.
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "amqtt==$amqtt_version"
    echo "amqtt==$amqtt_version" > "$stamp"
fi
