#!/usr/bin/env bash
# make-deb: split a staged `make install PREFIX=/usr LIBDIR=/usr/lib/<multiarch>` tree into the
# three Debian binary packages and build them with dpkg-deb:
#   libaecv0      the runtime library (libaecv.so.0.x.y + the SONAME link)
#   libaecv-dev   header, libaecv.so link, pkg-config file, CMake package config
#   aecv-tools    the `aecv` command-line tool
#   packaging/make-deb.sh VERSION STAGE_ROOT MULTIARCH OUT_DIR
# Depends come from dpkg-shlibdeps (the libraries the ELF files need, with minimal versions).
# Lintian-minded: each package has /usr/share/doc/<pkg>/copyright and changelog.Debian.gz,
# files are root-owned with 0644/0755 modes, and md5sums are included.
set -euo pipefail
version=$1 stage=$2 multiarch=$3 out=$4
revision=1
debversion=$version-$revision
arch=$(dpkg --print-architecture)
soversion=${version%%.*}
mkdir -p "$out"; out=$(cd "$out" && pwd); stage=$(cd "$stage" && pwd)
work=$(dirname "$out")/pkgs
rm -rf "$work" && mkdir -p "$work" "$out"
rm -f "$out"/*.deb

put() {  # put PKG PATH...: move PATHs (relative to the stage) into package PKG
    local pkg=$1; shift
    for path in "$@"; do
        mkdir -p "$work/$pkg/$(dirname "$path")"
        cp -a "$stage/$path" "$work/$pkg/$path"
    done
}
libdir=usr/lib/$multiarch
put libaecv0 "$libdir/libaecv.so.$version" "$libdir/libaecv.so.$soversion"
put libaecv-dev usr/include/aecv.h "$libdir/libaecv.so" "$libdir/pkgconfig/aecv.pc" \
    "$libdir/cmake/aecv/aecvConfig.cmake" "$libdir/cmake/aecv/aecvConfigVersion.cmake"
put aecv-tools usr/bin/aecv

shlibdeps() {  # shlibdeps PKG FILE: the Depends of FILE (dpkg-shlibdeps needs debian/control)
    local dir=$work/.shlibdeps
    mkdir -p "$dir/debian"
    printf 'Source: aecv\n\nPackage: %s\nArchitecture: any\n' "$1" > "$dir/debian/control"
    (cd "$dir" && dpkg-shlibdeps -O -e "$2" 2>"$dir/stderr" | sed -n 's/^shlibs:Depends=//p')
}

description_libaecv0="autoencoders for computer vision (runtime library)
 libaecv creates, trains and runs autoencoders (dense, sparse, denoising,
 variational, convolutional) and uses them for feature extraction,
 classification, anomaly detection and object detection, through one stable
 C ABI. The Swift runtime is linked in; OpenBLAS does the matrix products.
 .
 This package contains the shared library."
description_libaecv_dev="autoencoders for computer vision (development files)
 libaecv creates, trains and runs autoencoders for computer vision through one
 stable C ABI.
 .
 This package contains the header aecv.h, the pkg-config file aecv.pc and the
 CMake package configuration (find_package(aecv), target aecv::aecv)."
description_aecv_tools="autoencoders for computer vision (command-line tool)
 libaecv creates, trains and runs autoencoders for computer vision.
 .
 This package contains the aecv tool: train, eval, reconstruct, sample,
 interpolate, encode, denoise, anomaly, classify, detect, info."

for pkg in libaecv0 libaecv-dev aecv-tools; do
    root=$work/$pkg
    case $pkg in
        libaecv0)    depends=$(shlibdeps $pkg "$root/$libdir/libaecv.so.$version")
                     section=libs; description=$description_libaecv0; extra="Multi-Arch: same" ;;
        libaecv-dev) depends="libaecv0 (= $debversion)"
                     section=libdevel; description=$description_libaecv_dev; extra="Multi-Arch: same" ;;
        aecv-tools)  depends=$(shlibdeps $pkg "$root/usr/bin/aecv")
                     section=science; description=$description_aecv_tools; extra="" ;;
    esac
    [ -n "$depends" ] || { echo "make-deb: no Depends found for $pkg"; exit 1; }
    doc=$root/usr/share/doc/$pkg
    mkdir -p "$doc" "$root/DEBIAN"
    cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: libaecv
Comment: Built from the libaecv repository with make deb.

Files: *
Copyright: the libaecv authors
License: see the libaecv source repository
COPYRIGHT
    printf 'aecv (%s) unstable; urgency=medium\n\n  * Built with make deb.\n\n -- libaecv maintainers <libaecv@localhost>  %s\n' \
        "$debversion" "$(date -R -u -d @"${SOURCE_DATE_EPOCH:-0}")" | gzip -9n > "$doc/changelog.Debian.gz"
    installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
    {
        echo "Package: $pkg"
        echo "Source: aecv"
        echo "Version: $debversion"
        echo "Architecture: $arch"
        [ -n "$extra" ] && echo "$extra"
        echo "Maintainer: libaecv maintainers <libaecv@localhost>"
        echo "Installed-Size: $installed_size"
        echo "Depends: $depends"
        echo "Section: $section"
        echo "Priority: optional"
        echo "Description: $description"
    } > "$root/DEBIAN/control"
    if [ "$pkg" = libaecv0 ]; then
        # The runtime library's package tells dpkg-shlibdeps of dependents what to depend on.
        echo "libaecv $soversion libaecv0 (>= $version)" > "$root/DEBIAN/shlibs"
        printf 'activate-noawait ldconfig\n' > "$root/DEBIAN/triggers"
    fi
    (cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
    find "$root" -type d -exec chmod 0755 {} +
    find "$root" -type f -exec chmod 0644 {} +
    [ -f "$root/usr/bin/aecv" ] && chmod 0755 "$root/usr/bin/aecv"
    find "$root" -name 'libaecv.so.*.*' -type f -exec chmod 0644 {} +  # Debian policy: 0644
    dpkg-deb --root-owner-group -Zxz --build "$root" "$out/${pkg}_${debversion}_${arch}.deb" >/dev/null
    echo "make-deb: $out/${pkg}_${debversion}_${arch}.deb (Depends: $depends)"
done
