// The public Swift API of libaecv, `import AECV`: the layers of the core re-exported as one
// module, so that hosts (the C API, the CLI, Swift programs) need not know the split.
//
//   AECVKernels  errors, memory checks, GEMM and the other loops, worker threads
//   AECVNN       tensors, layers and their registry, losses, optimizers, JSON readers
//   AECVModels   model specs and kinds, autoencoders, the trainable core
//   AECVTasks    classification, detection, inspection metrics and anomaly calibration
//   AECVIO       model files, safetensors, ONNX
//
// Package.swift lets each target import only those above it in this list; docs/ARCHITECTURE.md
// says what lives where.
@_exported import AECVKernels
@_exported import AECVNN
@_exported import AECVModels
@_exported import AECVTasks
@_exported import AECVIO
