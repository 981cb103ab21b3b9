#!/bin/bash
# make image-test: the container image's smoke test (root, podman). Builds the image if it is missing,
# then runs it the way a user does — embedded broker, /data volume, a plugin dropped into
# /data/plugins — with --network none, so nothing it does can leave the container. Checks:
#   - the container becomes healthy (its HEALTHCHECK, `speakerbridge health`, run by podman healthcheck run)
#   - tini is PID 1; the daemon and its mosquitto run as the image's non-root user
#   - `speakerbridge say … --wait` answers done; the log speaker (Examples/log-speaker, built here
#     and mounted in, as a user would add a driver) played it; the clip it was handed is espeak-ng's
#     WAV of the sentence (same length as this machine's espeak-ng says it, ±5 %)
#   - a Swift plugin (Examples/SwiftEchoSpeaker, built here) loads: the image's shared Swift runtime
#     is the one Swift plugins link (the reason the daemon is not built with --static-swift-stdlib)
#   - `podman stop` ends it cleanly: exit 0, `offline` (reason shutdown) published retained
# Fails with what went wrong and the container's log. IMAGE (default localhost/speakerbridge:latest).
set -euo pipefail
cd "$(dirname "$0")/.."

image=${IMAGE:-localhost/speakerbridge:latest}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/packaging/container/containers.conf}
sentence="The container speaks."
name=speakerbridge-smoke-$$

started=$SECONDS
step() { printf 'image-test [%3ds]: %s\n' $((SECONDS - started)) "$*"; }

if [[ $(id -u) -ne 0 ]]; then
    echo "image-test: SKIPPED: needs root (podman and a bind-mounted /data owned by the image's user)" >&2
    exit 0
fi
for tool in podman nsenter mosquitto_sub curl espeak-ng soxi make cc swift; do
    command -v "$tool" >/dev/null || { echo "image-test: $tool is missing; run scripts/install-deps.sh image" >&2; exit 1; }
done

work=$(mktemp -d /tmp/speakerbridge-image-test.XXXXXX)
watcher=""
cleanup() {
    [[ -n $watcher ]] && kill "$watcher" 2>/dev/null
    podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "image-test: FAILED: $*" >&2
    if podman container exists "$name"; then
        echo "---- container log (last 60 lines) ----" >&2
        podman logs "$name" 2>&1 | tail -60 >&2
        echo "---- end of container log ----" >&2
    fi
    # The plain closing line a CI log reader counts, like the suite's before it.
    echo "image-test: 0 passed, 1 failed"
    exit 1
}

if podman image exists "$image"; then
    step "image $image (present)"
else
    step "image $image missing: building it"
    IMAGE=$image scripts/image-build.sh
fi

uid=$(podman run --rm --no-healthcheck --network none --entrypoint id "$image" -u 2>"$work/id.err") \
    || fail "cannot run the image (podman run … id -u): $(cat "$work/id.err")"
[[ $uid != 0 ]] || fail "the image's user is root; it must be a non-root user"
# An OCI-format build drops HEALTHCHECK; the image must carry ours.
check=$(podman image inspect --format '{{json .HealthCheck}}' "$image")
[[ $check == *'"speakerbridge","health"'* ]] || fail "the image has no HEALTHCHECK running speakerbridge health (built without --format docker?): $check"

step "log speaker built into the /data volume (owned by the image's user, uid $uid)"
data=$work/data
mkdir -p "$data/plugins"
make -s -C Examples/log-speaker OUT="$data/plugins/log-speaker.so" >/dev/null
rm -f "$data/plugins/log-speaker.so.flags"
printf '{"log": "/data/played.log", "speakers": ["Kitchen"]}\n' > "$data/plugins/log-speaker.json"
step "Swift echo plugin built (swift build --product SwiftEchoSpeaker) into the volume too"
swift build --product SwiftEchoSpeaker >"$work/swift-build.log" 2>&1 \
    || { cat "$work/swift-build.log" >&2; fail "swift build --product SwiftEchoSpeaker failed"; }
cp "$(swift build --show-bin-path)/libSwiftEchoSpeaker.so" "$data/plugins/swift-echo.so"
chmod 755 "$data" "$data/plugins" && chmod 644 "$data/plugins"/*
chown -R "$uid:$uid" "$data"

step "podman run --network none (embedded broker, /data from $data)"
# podman also says it has no systemd to time health checks with (there is none here: hence
# podman healthcheck run); that goes to a file, shown if the run fails.
podman run -d --name "$name" --network none -v "$data:/data" "$image" >/dev/null 2>"$work/run.err" \
    || fail "podman run failed: $(cat "$work/run.err")"

step "waiting for healthy (podman healthcheck run, up to 90 s)"
healthy=""
for _ in $(seq 1 90); do
    if podman healthcheck run "$name" >/dev/null 2>&1; then healthy=yes; break; fi
    [[ $(podman inspect --format '{{.State.Running}}' "$name") == true ]] || fail "the container stopped before it was healthy"
    sleep 1
done
[[ -n $healthy ]] || fail "not healthy after 90 s (podman healthcheck run)"
step "healthy: $(podman inspect --format '{{.State.Health.Status}}' "$name" 2>/dev/null || echo ok)"

pid1=$(podman exec "$name" cat /proc/1/comm) || fail "cannot read PID 1's name"
[[ $pid1 == tini ]] || fail "PID 1 is '$pid1', not tini"
# podman top reads the container's /proc itself, no ps needed in the image.
processes=$(podman top "$name" user comm) || fail "podman top failed"
for proc in speakerbridge mosquitto; do
    user=$(awk -v p="$proc" '$2 == p { print $1; exit }' <<<"$processes")
    [[ -n $user ]] || fail "no $proc process in the container: $processes"
    [[ $user != root && $user != 0 ]] || fail "$proc runs as root"
done
step "PID 1 is tini; speakerbridge and mosquitto run as $(awk '$2 == "speakerbridge" { print $1; exit }' <<<"$processes")"

# Healthy speaks of the broker session; the plugins may still be loading for a moment.
wanted="org.speakerbridge.tts.espeak-ng org.speakerbridge.sonos org.speakerbridge.example.log-speaker
        org.speakerbridge.example.swift-echo"
for _ in $(seq 1 20); do
    plugins=$(podman exec "$name" speakerbridge plugins list 2>&1) || fail "plugins list failed: $plugins"
    missing=""
    for plugin in $wanted; do grep -q "^$plugin " <<<"$plugins" || missing+=" $plugin"; done
    [[ -z $missing ]] && break
    sleep 0.5
done
[[ -z $missing ]] || fail "not loaded after 10 s:$missing; plugins list says: $plugins"
step "plugins loaded: the bundled TTS and Sonos driver, the log speaker and the Swift echo plugin"

step "say \"$sentence\" --speaker Kitchen --wait"
answer=$(podman exec "$name" speakerbridge say "$sentence" --speaker Kitchen --wait --timeout 60 2>&1) \
    || fail "say --wait failed: $answer"
[[ $answer == *": done"* ]] || fail "say --wait answered '$answer', not done"
step "answer: $(tr '\n' ' ' <<<"$answer")"

played=$(cat "$data/played.log" 2>/dev/null) || fail "the log speaker wrote no $data/played.log"
line=$(grep -m1 '^play log-kitchen ' <<<"$played") || fail "the log speaker played nothing for Kitchen: $played"
url=$(awk '{ print $3 }' <<<"$line")
step "played: $line"

# The clip is fetched from inside the container's own network namespace (loopback only).
netns=/proc/$(podman inspect --format '{{.State.Pid}}' "$name")/ns/net
nsenter --net="$netns" curl -sf --max-time 10 -o "$work/clip.wav" "$url" || fail "cannot fetch the clip $url"
head -c 12 "$work/clip.wav" | grep -q 'WAVE' || fail "the clip is not a WAV file"
espeak-ng -w "$work/reference.wav" "$sentence"
got=$(soxi -D "$work/clip.wav") want=$(soxi -D "$work/reference.wav")
awk -v g="$got" -v w="$want" 'BEGIN { exit !(g >= w * 0.95 && g <= w * 1.05) }' \
    || fail "the clip lasts ${got}s; espeak-ng says the sentence in ${want}s"
step "the clip is the sentence: ${got}s (espeak-ng here: ${want}s)"

# Watch the bridge state through the embedded broker (inside the container's namespace) while the
# container stops. MQTT 5 retain-as-published shows whether the daemon published it retained.
password=$(cat "$data/broker/password") || fail "no embedded broker password in $data/broker/password"
nsenter --net="$netns" mosquitto_sub -h 127.0.0.1 -p 1883 -V mqttv5 -u speakerbridge -P "$password" \
    -i image-test-watch --retain-as-published -F '%r %p' -t speakerbridge/bridge/state \
    > "$work/state.log" 2>"$work/state.err" &
watcher=$!
for _ in $(seq 1 50); do grep -q '"online"' "$work/state.log" && break; sleep 0.1; done
grep -q '"online"' "$work/state.log" || fail "the broker did not show the retained online state: $(cat "$work/state.log" "$work/state.err")"

step "podman stop (SIGTERM to tini, which forwards it)"
podman stop -t 30 "$name" >/dev/null 2>"$work/stop.err" || fail "podman stop failed: $(cat "$work/stop.err")"
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[[ $code == 0 ]] || fail "the container exited with $code after SIGTERM, not 0"
sleep 0.5
kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null || true; watcher=""
grep '^1 ' "$work/state.log" | grep '"offline"' | grep -q '"shutdown"' \
    || fail "no retained offline/shutdown state before the stop; seen: $(cat "$work/state.log")"
step "stopped: exit 0, retained $(grep -m1 '"offline"' "$work/state.log" | cut -d' ' -f2-)"
step "passed"
echo "image-test: 1 passed, 0 failed"
