#!/bin/sh
# The ONNX parser's libFuzzer harness (fuzz/onnx/Harness.swift, seeds fuzz/corpus/onnx) for
# FUZZ_SECONDS; `make fuzz-onnx`. See fuzz/run_harness.sh for the build and the outputs.
exec "$(dirname "$0")/../run_harness.sh" onnx fuzz/onnx/Harness.swift
