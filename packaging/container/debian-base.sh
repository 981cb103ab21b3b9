#!/bin/bash
# Makes a Debian 12 base image from the Debian mirror, for machines that reach the Debian archive but
# no container registry (then docker.io/library/debian:bookworm-slim cannot be pulled). The image
# stands in for both build arguments of the Containerfile: BASE_IMAGE as it is, and BUILDER_IMAGE
# with the Swift toolchain bound in from the host (scripts/image-build.sh does both).
#
#   packaging/container/debian-base.sh [TAG]      default TAG: localhost/speakerbridge-base:bookworm
#
# Mirrors: DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR (defaults: the ones Debian's own images use).
# Needs root, mmdebstrap and podman (scripts/install-deps.sh image).
set -euo pipefail

tag=${1:-localhost/speakerbridge-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

work=$(mktemp -d /tmp/speakerbridge-base.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "debian-base: mmdebstrap bookworm (minbase) from $mirror"
# minbase: essential packages and apt only, like the slim images. The merged-usr hook makes /bin,
# /lib, /sbin links into /usr as on every bookworm system. Documentation, manual pages and
# translations are never unpacked (the copyright files stay), which is most of what minbase
# would otherwise add; later apt-get installs in the image keep these excludes, since they are
# dpkg settings inside the image.
log="$work/mmdebstrap.log"
if ! mmdebstrap --variant=minbase --format=tar --quiet \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --aptopt='Acquire::Languages "none"' \
    --aptopt='APT::Install-Recommends "false"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm "$work/rootfs.tar" \
    "deb $mirror bookworm main" \
    "deb $mirror bookworm-updates main" \
    "deb $security bookworm-security main" >"$log" 2>&1; then
    cat "$log" >&2
    echo "debian-base: mmdebstrap failed (its output above)" >&2
    exit 1
fi

echo "debian-base: podman import as $tag ($(du -h "$work/rootfs.tar" | cut -f1) tar)"
podman import --quiet --change 'CMD ["/bin/bash"]' "$work/rootfs.tar" "$tag" >/dev/null
echo "debian-base: $tag ready"
