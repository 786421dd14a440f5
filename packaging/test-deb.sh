#!/usr/bin/env bash
# test-deb: checks the .debs of `make deb` the way a user meets them.
#   packaging/test-deb.sh DEB_DIR MULTIARCH VERSION
# 1. dpkg-deb --info / --contents: names, version, Depends, the expected files and nothing else
#    (root-owned, under /usr only).
# 2. dpkg -x of all three into a scratch root; a C program compiled against it through
#    pkg-config (PKG_CONFIG_SYSROOT_DIR) trains and saves a model; the packaged `aecv info`
#    reads that file; examples/cpp builds against the same root through find_package(aecv).
set -euo pipefail
dir=$1 multiarch=$2 version=$3
arch=$(dpkg --print-architecture)
v=$version-1
lib=usr/lib/$multiarch
work=$(dirname "$dir")/test
rm -rf "$work" && mkdir -p "$work/root"
fail() { echo "test-deb: $*"; exit 1; }

check() {  # check PKG DEPENDS_REGEX FILE...: control fields and the exact file list
    local pkg=$1 depends=$2; shift 2
    local deb=$dir/${pkg}_${v}_${arch}.deb
    [ -f "$deb" ] || fail "$deb is missing"
    local info; info=$(dpkg-deb --info "$deb")
    [ "$(dpkg-deb --field "$deb" Package)" = "$pkg" ] || fail "$pkg: wrong Package field"
    [ "$(dpkg-deb --field "$deb" Version)" = "$v" ] || fail "$pkg: Version is not $v"
    [ "$(dpkg-deb --field "$deb" Architecture)" = "$arch" ] || fail "$pkg: Architecture is not $arch"
    dpkg-deb --field "$deb" Depends | grep -Eq "$depends" \
        || fail "$pkg: Depends '$(dpkg-deb --field "$deb" Depends)' does not match $depends"
    printf '%s\n' "$info" | grep -q "^ Description: " || fail "$pkg: no Description"
    local contents; contents=$(dpkg-deb --contents "$deb")
    if printf '%s\n' "$contents" | awk '{print $2}' | grep -qv '^root/root$'; then
        fail "$pkg: files not owned by root/root"
    fi
    local files; files=$(printf '%s\n' "$contents" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./||' | sort)
    local want; want=$(printf '%s\n' "$@" "usr/share/doc/$pkg/copyright" \
                           "usr/share/doc/$pkg/changelog.Debian.gz" | sort)
    [ "$files" = "$want" ] || { echo "got:"; echo "$files"; echo "want:"; echo "$want"; fail "$pkg: file list differs"; }
    dpkg -x "$deb" "$work/root"
    echo "test-deb: $pkg $v: Depends: $(dpkg-deb --field "$deb" Depends); $(echo "$files" | wc -l) files"
}
check libaecv0 'libc6 \(>= [0-9.]+\).*libopenblas0' "$lib/libaecv.so.$version" "$lib/libaecv.so.${version%%.*}"
check libaecv-dev "^libaecv0 \\(= $v\\)$" usr/include/aecv.h "$lib/libaecv.so" "$lib/pkgconfig/aecv.pc" \
    "$lib/cmake/aecv/aecvConfig.cmake" "$lib/cmake/aecv/aecvConfigVersion.cmake"
check aecv-tools 'libopenblas0.*zlib1g' usr/bin/aecv
[ "$(readlink "$work/root/$lib/libaecv.so.0")" = "libaecv.so.$version" ] || fail "libaecv.so.0 link"
[ "$(readlink "$work/root/$lib/libaecv.so")" = "libaecv.so.0" ] || fail "libaecv.so link"

root=$(cd "$work/root" && pwd)
cat > "$work/program.c" <<'C'
#include <aecv.h>
#include <stdio.h>
#include <string.h>
/* Trains a tiny model for 50 steps, checks the loss fell, saves it to argv[1]. */
int main(int argc, char **argv) {
    if (argc != 2) return 2;
    aecv_model *m = NULL;
    if (aecv_model_create("{\"preset\": \"dense\", \"input\": [1, 4, 4], \"latent\": 4, \"hidden\": [16]}", &m) != AECV_OK) {
        fprintf(stderr, "create: %s\n", aecv_last_error()); return 1;
    }
    float x[8 * 16]; memset(x, 0, sizeof x);
    for (int i = 0; i < 8; i++) x[i * 16 + i] = 1.0f;
    float first = 0, loss = 0;
    for (int s = 0; s < 50; s++) {
        if (aecv_model_train_step(m, x, NULL, 8, &loss) != AECV_OK) { fprintf(stderr, "%s\n", aecv_last_error()); return 1; }
        if (s == 0) first = loss;
    }
    printf("libaecv %s: loss %.4f -> %.4f\n", aecv_version_string(), first, loss);
    int ok = loss < first && aecv_model_save(m, argv[1]) == AECV_OK;
    aecv_model_free(m);
    return ok ? 0 : 1;
}
C
flags=$(PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root/$lib/pkgconfig pkg-config --cflags --libs aecv)
case "$flags" in *"-I$root/usr/include"*"-L$root/$lib"*) ;; *) fail "pkg-config flags do not point into the root: $flags" ;; esac
${CC:-cc} -Wall -Wextra -Werror -std=c99 "$work/program.c" -o "$work/program" $flags
LD_LIBRARY_PATH=$root/$lib "$work/program" "$work/model.aecv"
info=$(LD_LIBRARY_PATH=$root/$lib "$root/usr/bin/aecv" info "$work/model.aecv")
printf '%s\n' "$info" | grep -q dense || { echo "$info"; fail "aecv info does not report the dense model"; }
echo "test-deb: the packaged aecv reads the model: $(printf '%s\n' "$info" | head -1)"
packaging/test-cmake.sh "$root/usr" "$work/cmake"
echo "test-deb: PASSED (3 packages: contents, Depends, a C program via pkg-config, aecv, CMake)"
