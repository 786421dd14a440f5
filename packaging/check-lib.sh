#!/usr/bin/env bash
# Asserts the packaging properties of a built libaecv.so (README, "Install"):
#   1. no RUNPATH/RPATH pointing into the toolchain (none at all is expected; only $ORIGIN would
#      be tolerated), and the SONAME is libaecv.so.0;
#   2. no libswift* (nor libdispatch/libFoundation/ICU) among the NEEDED libraries: the Swift
#      runtime is linked statically;
#   3. the dynamic symbol table exports only aecv_* symbols, and exactly the functions that
#      include/aecv.h declares.
# Usage: check-lib.sh LIBRARY HEADER
set -euo pipefail
lib=${1:?usage: check-lib.sh LIBRARY HEADER}
header=${2:?usage: check-lib.sh LIBRARY HEADER}
failures=0
fail() { echo "check-lib: FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "check-lib: ok: $*"; }

[ -f "$lib" ] || { echo "check-lib: FAIL: $lib does not exist (run make lib)" >&2; exit 1; }
dynamic=$(readelf -d "$lib")

# 1. RUNPATH / RPATH and SONAME
paths=$(printf '%s\n' "$dynamic" | sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]/\2/p')
if [ -z "$paths" ]; then
    ok "no RUNPATH/RPATH"
else
    bad=$(printf '%s\n' "$paths" | tr ':' '\n' | grep -v '^\$ORIGIN$' || true)
    if [ -n "$bad" ]; then fail "RUNPATH/RPATH contains $(echo $bad)"; else ok "RUNPATH is only \$ORIGIN"; fi
fi
soname=$(printf '%s\n' "$dynamic" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" = "libaecv.so.0" ]; then ok "SONAME $soname"; else fail "SONAME is '$soname', expected libaecv.so.0"; fi

# 2. NEEDED
needed=$(printf '%s\n' "$dynamic" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
swiftish=$(printf '%s\n' "$needed" | grep -E '^lib(swift|dispatch|BlocksRuntime|Foundation|icu|_FoundationICU)' || true)
if [ -n "$swiftish" ]; then fail "NEEDED has Swift runtime libraries: $(echo $swiftish)"; else ok "NEEDED: $(echo $needed)"; fi

# 3. exported symbols
exported=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort -u)
foreign=$(printf '%s\n' "$exported" | grep -v '^aecv_' || true)
if [ -n "$foreign" ]; then
    fail "exports non-aecv symbols: $(printf '%s\n' "$foreign" | head -20 | tr '\n' ' ')"
else
    ok "exports only aecv_* ($(printf '%s\n' "$exported" | wc -l) symbols)"
fi
declared=$(grep -oE '\baecv_[a-z_0-9]+[[:space:]]*\(' "$header" | sed 's/[[:space:]]*($//' | sort -u)
missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported"))
extra=$(comm -13 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported"))
[ -z "$missing" ] || fail "declared in $header but not exported: $(echo $missing)"
[ -z "$extra" ] || fail "exported but not declared in $header: $(echo $extra)"
[ -n "$missing$extra" ] || ok "exports exactly the $(printf '%s\n' "$declared" | wc -l) functions of $header"

if [ "$failures" -ne 0 ]; then
    echo "check-lib: $failures check(s) FAILED for $lib" >&2
    exit 1
fi
echo "check-lib: all checks passed for $lib"
