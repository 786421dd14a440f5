#!/bin/sh
# The C API sequence fuzzer (fuzz/capi/Harness.swift, seeds fuzz/corpus/capi) for FUZZ_SECONDS;
# `make fuzz-capi`. The harness is compiled with the core (fuzz/core_sources.sh) and
# Sources/AECVCAPI as one module; see fuzz/run_harness.sh for the build and the outputs.
exec "$(dirname "$0")/../run_harness.sh" capi fuzz/capi/Harness.swift Sources/AECVCAPI
