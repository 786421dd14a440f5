#!/bin/sh
# Prints the Swift sources of the core (Sources/AECVKernels ... Sources/AECVIO and the AECV
# umbrella) plus any EXTRA_DIRs, prepared to be compiled as ONE module named AECV, which is how
# the fuzz harnesses instrument them (swiftc -sanitize=fuzzer,address):
#
#   fuzz/core_sources.sh OUT [EXTRA_DIR ...]
#
# In the package the core is five targets, each importing the ones below it. In one module those
# imports would name modules that do not exist, so the copies written under OUT/core-src drop
# them (`import AECVNN`, `@_exported import AECVIO`, ...); nothing else changes, and a stack trace
# names OUT/core-src/Sources/<target>/<file>. An extra dir's `import AECV` names the module
# itself, which swiftc ignores. Compile the result with `-package-name aecv` (the core's
# cross-target declarations are `package`).
set -eu
out=$1; shift
rm -rf "$out/core-src"
for f in $(find Sources/AECVKernels Sources/AECVNN Sources/AECVModels Sources/AECVTasks Sources/AECVIO \
                Sources/AECV "$@" -name '*.swift' | LC_ALL=C sort); do
    mkdir -p "$out/core-src/$(dirname "$f")"
    grep -vE '^(@_exported )?import AECV(Kernels|NN|Models|Tasks|IO)$' "$f" > "$out/core-src/$f" || true
    echo "$out/core-src/$f"
done
