#!/bin/bash
# make demo: speakerbridge end to end on a private LAN of network namespaces, with two real UPnP
# speakers (gmediarender "Kitchen" and "Office") that record what they play and a simulated Sonos
# household (the fake-sonos program: "Living Room" and "Bedroom"). Nothing is sent on the machine's
# real interfaces: every process runs inside namespaces this script creates and removes.
#
#   switch namespace:  a Linux bridge joining the four below
#   daemon namespace:  mosquitto + speakerbridge (TTS plugin + Sonos/UPnP driver)    10.233.N.1
#   kitchen, office:   one gmediarender each                                        10.233.N.2, .3
#   sonos:             fake-sonos, answering SSDP on the LAN (the host: 10.233.N.4); its players
#                      on a subnet of their own at port 1400, as real players      10.234.M.1, .2
#
# Result: out/demo/kitchen.wav and out/demo/office.wav (what each speaker played), the Sonos
# rooms' announcements confirmed done, logs beside them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
SWIFT=${SWIFT:-swift}
out=$root/out/demo
timeout_speakers=${DEMO_SPEAKER_TIMEOUT:-30}

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\ndemo FAILED: %s\n' "$*" >&2; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
    echo "make demo needs root: it builds its own network of namespaces (ip netns) for the speakers," >&2
    echo "so that no SSDP or other traffic touches this machine's real network. Run: sudo make demo" >&2
    exit 1
fi
"$root/scripts/install-deps.sh" test
for tool in ip gmediarender mosquitto mosquitto_sub sox curl; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh test installs it)"
done

# ---------------------------------------------------------------------------------------------
step "building the daemon (release)"
# DEMO_SCRATCH_PATH: build somewhere other than .build (e.g. while others build in this tree).
build_flags=(-c release ${DEMO_SCRATCH_PATH:+--scratch-path "$DEMO_SCRATCH_PATH"})
(cd "$root" && "$SWIFT" build "${build_flags[@]}" --product speakerbridge)
bin=$(cd "$root" && "$SWIFT" build "${build_flags[@]}" --show-bin-path)/speakerbridge
[[ -x $bin ]] || fail "no daemon binary at $bin"

step "building the Sonos simulator (fake-sonos, release)"
(cd "$root" && "$SWIFT" build "${build_flags[@]}" --product fake-sonos)
fake_sonos=$(dirname "$bin")/fake-sonos
[[ -x $fake_sonos ]] || fail "no fake-sonos binary at $fake_sonos"

step "building the plugins into $out/plugins"
rm -rf "$out" && mkdir -p "$out/plugins" "$out/state" && chmod 755 "$root/out" "$out" "$out/plugins"
make -s -C "$root/Plugins/TTSDriver" OUT="$out/plugins/tts-espeak.so"
printf '{"cache_dir": "%s"}\n' "$out/tts-cache" >"$out/plugins/tts-espeak.json"
[[ -f $root/Plugins/SonosDriver/Makefile ]] || fail "Plugins/SonosDriver/Makefile not found: the Sonos/UPnP driver is not there yet"
make -s -C "$root/Plugins/SonosDriver" OUT="$out/plugins/sonos.so" || fail "the Sonos/UPnP driver does not build"
printf '{"discovery": true, "interface": "lab0"}\n' >"$out/plugins/sonos.json"
ls -l "$out/plugins"

# ---------------------------------------------------------------------------------------------
step "building the lab network (namespaces, bridge, veth pairs)"
prefix="sbdemo$$"
sw=$prefix-sw daemon_ns=$prefix-daemon
speakers=(Kitchen Office)
sonos_rooms=("Living Room" Bedroom)
subnet="10.233.$((RANDOM % 250 + 1))"
sonos_subnet="10.234.$((RANDOM % 250 + 1))"
sonos_ns=$prefix-sonos
daemon_addr=$subnet.1
namespaces=()
pids=()
daemon_pid=

# The daemon first (SIGTERM: it says offline on MQTT and stops cleanly), then everything else.
stop_all() {
    if [[ -n ${daemon_pid:-} ]] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill "$daemon_pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    for _ in $(seq 30); do
        local alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
}

# The recordings (raw PCM, S16LE mono 22050 Hz, appended while the speakers played) become WAV
# files; each is printed with its length and loudness.
report_wavs() {
    printf '\n==> what the speakers played\n'
    for name in "${speakers[@]}"; do
        local id=${name,,} stats
        if [[ -s $out/$id.raw ]]; then
            sox -t raw -r 22050 -e signed-integer -b 16 -c 1 "$out/$id.raw" "$out/$id.wav" && rm -f "$out/$id.raw"
        fi
        if [[ ! -s $out/$id.wav ]]; then
            printf '  %-8s nothing recorded\n' "$name"
            continue
        fi
        stats=$(sox "$out/$id.wav" -n stat 2>&1)
        printf '  %-8s %s  %.2f s  (RMS amplitude %s, max %s)\n' "$name" "$out/$id.wav" \
            "$(awk -F: '/Length \(seconds\)/ {print $2}' <<<"$stats")" \
            "$(awk -F: '/RMS +amplitude/ {gsub(/ /, "", $2); print $2}' <<<"$stats")" \
            "$(awk -F: '/Maximum amplitude/ {gsub(/ /, "", $2); print $2}' <<<"$stats")"
    done
}

cleanup() {
    local status=$?
    set +e
    printf '\n==> tearing down the lab\n'
    stop_all
    for ns in "${namespaces[@]}"; do
        # Anything still inside (a child of a child) would keep the namespace alive.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    report_wavs
    for ((i = ${#namespaces[@]} - 1; i >= 0; i--)); do ip netns del "${namespaces[i]}" 2>/dev/null; done
    echo "namespaces removed; files kept in $out"
    if ((status == 0)); then echo "demo done"; else echo "demo failed (exit status $status)" >&2; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

add_ns() { ip netns add "$1" && namespaces+=("$1") && ip -n "$1" link set lo up; }
add_ns "$sw"
ip -n "$sw" link add br0 type bridge
ip -n "$sw" link set br0 type bridge mcast_snooping 0 # SSDP must reach every port, no IGMP querier here
ip -n "$sw" link set br0 up
hosts=("$daemon_ns")
for name in "${speakers[@]}"; do hosts+=("$prefix-${name,,}"); done
hosts+=("$sonos_ns")
for i in "${!hosts[@]}"; do
    ns=${hosts[i]}
    add_ns "$ns"
    # Both ends are created inside their namespaces: never visible in the machine's own.
    ip link add lab0 netns "$ns" type veth peer name "p$i" netns "$sw"
    ip -n "$sw" link set "p$i" master br0 up
    ip -n "$ns" addr add "$subnet.$((i + 1))/24" dev lab0
    ip -n "$ns" link set lab0 up
    ip -n "$ns" route replace 239.0.0.0/8 dev lab0
    echo "  $ns  $subnet.$((i + 1))"
done

# ---------------------------------------------------------------------------------------------
step "starting the speakers (gmediarender, recording in real time)"
for i in "${!speakers[@]}"; do
    name=${speakers[i]} id=${speakers[i],,} ns=${hosts[i + 1]} addr=$subnet.$((i + 2))
    # IPv4 only: libupnp would fail to bind the still-tentative IPv6 link-local address and retry.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.lab0.disable_ipv6=1
    ip netns exec "$ns" gmediarender -I lab0 -f "$name" -u "$(cat /proc/sys/kernel/random/uuid)" -p 49494 \
        --logfile "$out/$id.gmediarender.log" \
        --gstout-audiopipe "audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=22050,channels=1 ! filesink location=$out/$id.raw append=true buffer-mode=unbuffered sync=true" \
        >"$out/$id.gmediarender.out" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        # "Registered IP=<addr> port=<port>": libupnp may take a higher port than asked for.
        port=$(sed -n "s/.*Registered IP=$addr port=\([0-9]*\).*/\1/p" "$out/$id.gmediarender.log" 2>/dev/null | tail -1 || true)
        [[ -n $port ]] && ip netns exec "$ns" curl -sf -m 1 -o /dev/null "http://$addr:$port/description.xml" && break
        port=
        sleep 0.1
    done
    [[ -n $port ]] || fail "$name (gmediarender) did not come up; see $out/$id.gmediarender.out"
    echo "  $name answers at http://$addr:$port/description.xml"
done

# The simulated players listen on addresses of their own, as real ones do (player N on
# $sonos_subnet.N:1400); the daemon's host gets an address on that subnet too, so both are on-link.
for k in "${!sonos_rooms[@]}"; do ip -n "$sonos_ns" addr add "$sonos_subnet.$((k + 1))/24" dev lab0; done
ip -n "$daemon_ns" addr add "$sonos_subnet.254/24" dev lab0

step "starting the simulated Sonos household (fake-sonos in $sonos_ns, SSDP on its lab0 only)"
ip netns exec "$sonos_ns" "$fake_sonos" --players "${#sonos_rooms[@]}" --prefix "$sonos_subnet" \
    --names "$(IFS=,; echo "${sonos_rooms[*]}")" --ssdp-interface lab0 >"$out/fake-sonos.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^ready' "$out/fake-sonos.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready (SSDP' "$out/fake-sonos.out" || fail "fake-sonos did not start with SSDP; see $out/fake-sonos.out"
sed 's/^/  /' "$out/fake-sonos.out"

step "starting the broker (mosquitto on $daemon_addr:1883, daemon namespace)"
cat >"$out/mosquitto.conf" <<EOF
user root
allow_anonymous true
listener 1883 $daemon_addr
log_dest file $out/mosquitto.log
log_type error
log_type warning
log_type notice
EOF
ip netns exec "$daemon_ns" mosquitto -c "$out/mosquitto.conf" >"$out/mosquitto.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do ip netns exec "$daemon_ns" bash -c "exec 3<>/dev/tcp/$daemon_addr/1883" 2>/dev/null && break; sleep 0.1; done
ip netns exec "$daemon_ns" bash -c "exec 3<>/dev/tcp/$daemon_addr/1883" 2>/dev/null || fail "mosquitto did not start; see $out/mosquitto.out"
echo "  listening"

step "starting speakerbridge (daemon namespace; plugins: $out/plugins)"
ip netns exec "$daemon_ns" "$bin" run --broker "$daemon_addr:1883" --state-dir "$out/state" \
    --set plugins.path="$out/plugins" >"$out/daemon.log" 2>&1 &
pids+=($!)
daemon_pid=$!
echo "  pid $daemon_pid, log $out/daemon.log"

# ---------------------------------------------------------------------------------------------
step "waiting for the speakers to come online (up to ${timeout_speakers} s)"
ip netns exec "$daemon_ns" mosquitto_sub -h "$daemon_addr" -p 1883 -v -t 'speakerbridge/+/availability' \
    >"$out/availability.log" 2>&1 &
pids+=($!)
deadline=$((SECONDS + timeout_speakers))
online=()
rooms=("${speakers[@]}" "${sonos_rooms[@]}")
while ((SECONDS < deadline)); do
    kill -0 "$daemon_pid" 2>/dev/null || { tail -20 "$out/daemon.log" >&2; fail "the daemon exited; see $out/daemon.log"; }
    online=()
    for name in "${rooms[@]}"; do
        id=${name,,}
        grep -qx "speakerbridge/${id// /_}/availability online" "$out/availability.log" && online+=("$name")
    done
    ((${#online[@]} == ${#rooms[@]})) && break
    sleep 0.5
done
if ((${#online[@]} != ${#rooms[@]})); then
    echo "  availability seen:" && sed 's/^/    /' "$out/availability.log"
    echo "  daemon log (last lines):" && tail -15 "$out/daemon.log" | sed 's/^/    /'
    fail "speakers not online after ${timeout_speakers} s (online: ${online[*]:-none}); does the Sonos/UPnP driver discover MediaRenderers yet?"
fi
echo "  online: ${online[*]}"

# ---------------------------------------------------------------------------------------------
say() {
    local id=$1 text=$2
    step "saying on $id: \"$text\""
    ip netns exec "$daemon_ns" "$bin" say "$text" --speaker "$id" --wait --timeout 30 \
        --broker "$daemon_addr:1883" --state-dir "$out/state-cli" ||
        fail "the announcement on $id did not complete; see $out/daemon.log and the speaker's log ($out/$id.gmediarender.log or $out/fake-sonos.out)"
}
say kitchen "Good morning. The coffee is ready in the kitchen."
say office "The video call starts in five minutes."
say living_room "Dinner is ready in the living room."
say bedroom "Good night."
