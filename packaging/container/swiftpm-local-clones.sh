#!/bin/sh
# Run in the image's build step, in the source folder: points git at SwiftPM's own clones in
# .build/repositories (brought in by the build context) for the URLs they were cloned from, so that
# resolving the packages (SwiftPM fetches its clones whenever it recomputes versions) needs no network.
# Without that folder (a fresh checkout) nothing changes and SwiftPM fetches from the network.
set -eu
[ -d .build/repositories ] || exit 0
count=0
for clone in .build/repositories/*/; do
    url=$(git -C "$clone" config --get remote.origin.url) || continue
    base=${url%.git}
    # Both spellings, so the longest match wins and one package's URL never lands in another's
    # clone because it is a prefix of it (swift-nio, swift-nio-ssl).
    git config --global --add "url.$PWD/$clone.insteadOf" "$base"
    git config --global --add "url.$PWD/$clone.insteadOf" "$base.git"
    count=$((count + 1))
done
echo "swiftpm-local-clones: $count package clones used for their URLs"
