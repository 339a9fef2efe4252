#!/usr/bin/env bash
# Proves the layering of Package.swift: the runtime (StreamsCore), the processors (StreamsDedup),
# the test kit and the Kafka engine (StreamsKafka) build without liblmdb. They are built in a
# mount namespace where lmdb.h is replaced by a header that fails the build, so any path from
# them to CStreamsLMDB breaks it.
# Run by `make test`; uses its own build directory (.build-layering).
set -euo pipefail
cd "$(dirname "$0")/.."
header=$(pkg-config --variable=includedir lmdb 2>/dev/null || echo /usr/include)/lmdb.h
if [ ! -f "$header" ]; then
    echo "check-layering: $header not found; nothing to hide (install liblmdb-dev to run this check)" >&2
    exit 1
fi
poison=$(mktemp)
trap 'rm -f "$poison"' EXIT
echo '#error "layering: this target reaches liblmdb; only StreamsLMDB and the stores above it may"' >"$poison"
unshare_flags=(-m)
[ "$(id -u)" -eq 0 ] || unshare_flags=(-r -m)
targets=(StreamsCore StreamsDedup StreamsTestKit StreamsKafka)
# Without a mount namespace in which lmdb.h can be replaced (a container without the privilege, a
# kernel without unprivileged user namespaces) the check cannot be made: say so and skip it.
if ! unshare "${unshare_flags[@]}" bash -c 'mount --bind "$1" "$2"' probe "$poison" "$header" 2>/dev/null; then
    echo "check-layering: cannot hide $header in a mount namespace here (unshare ${unshare_flags[*]}); skipped" >&2
    exit 0
fi
unshare "${unshare_flags[@]}" bash -c '
    set -euo pipefail
    mount --bind "$1" "$2"
    shift 2
    for target in "$@"; do
        swift build --scratch-path .build-layering --target "$target" >/dev/null 2>&1 ||
            { echo "check-layering: $target does not build without liblmdb (swift build --target $target shows why)" >&2; exit 1; }
    done
' check-layering "$poison" "$header" "${targets[@]}"
echo "check-layering: ${targets[*]} build without liblmdb"
