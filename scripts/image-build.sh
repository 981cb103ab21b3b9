#!/bin/bash
# make image: builds the container image with podman on a machine that reaches the Debian archive but
# no container registry. The base image comes from the Debian mirror (packaging/container/debian-base.sh)
# and serves as the builder too, with this machine's Swift toolchain bound in for the build step only.
# With a registry, a plain `podman build .` or `docker build .` (Dockerfile links to Containerfile) does the same.
#
#   scripts/image-build.sh              IMAGE (default localhost/speakerbridge:latest)
#   BASE_IMAGE=…                        the base to use or make (default localhost/speakerbridge-base:bookworm)
#
# Needs root and scripts/install-deps.sh image. Prints each step with its time.
set -euo pipefail
cd "$(dirname "$0")/.."

image=${IMAGE:-localhost/speakerbridge:latest}
base=${BASE_IMAGE:-localhost/speakerbridge-base:bookworm}
# Our podman settings (runc, ulimits the VM allows), unless the caller brings its own.
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/packaging/container/containers.conf}

started=$SECONDS
step() { printf 'image-build [%3ds]: %s\n' $((SECONDS - started)) "$*"; }

if [[ $(id -u) -ne 0 ]]; then
    echo "image-build: needs root (podman and mmdebstrap as root); run it with sudo" >&2
    exit 1
fi

swift=$(command -v swift) || { echo "image-build: swift is not on PATH" >&2; exit 1; }
# <toolchain>/usr/bin/swift (often a link to swift-driver) -> <toolchain>
toolchain=$(cd "$(dirname "$(readlink -f "$swift")")/../.." && pwd)
[[ -x $toolchain/usr/bin/swift-frontend ]] || { echo "image-build: no Swift toolchain found at $toolchain" >&2; exit 1; }

if podman image exists "$base"; then
    step "base image $base (present)"
else
    step "base image $base: making it from the Debian mirror"
    packaging/container/debian-base.sh "$base"
fi

# The context carries SwiftPM's clones (.build/repositories); resolving here fills them from wherever
# this machine's git finds the packages, so the build inside needs no network for Swift packages.
step "swift package resolve (for .build/repositories)"
resolve_log=$(mktemp)
trap 'rm -f "$resolve_log"' EXIT
"$swift" package resolve >"$resolve_log" 2>&1 || { cat "$resolve_log" >&2; echo "image-build: swift package resolve failed" >&2; exit 1; }

step "podman build $image (toolchain $toolchain; the release build takes minutes)"
podman build --format docker \
    --build-context toolchain="$toolchain" \
    --build-arg BASE_IMAGE="$base" \
    --build-arg BUILDER_IMAGE="$base" \
    --layers --force-rm \
    -t "$image" -f Containerfile .

# Left behind: the builder stage (the release build tree, about 1.4 GB) and the layers of earlier
# builds, all untagged. A build whose sources changed starts over from the base anyway, so they go.
podman image prune -f >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$image")
step "done: $image, $((size / 1000000)) MB"
