// swift-tools-version:5.9
// libaecv: autoencoders for computer vision, in Swift, behind a stable C ABI.
//
// Targets, in layering order (docs/ARCHITECTURE.md):
//   CBLAS      system library: OpenBLAS's cblas.h (only Kernels/ imports it)
//   CKernels   C loops Swift cannot vectorize (the Adam update's square roots); internal symbols
//   AECVKernels  the core's lowest layer: errors, memory checks, GEMM and loops, worker threads
//   AECVNN       tensors, layers (the registry), losses, optimizers, JSON readers
//   AECVModels   specs, model kinds, autoencoders, the trainable core
//   AECVTasks    classifier, detector, inspection metrics and anomaly calibration
//   AECVIO       model files, safetensors, ONNX
//   AECV       the public Swift API: the five above, re-exported
//   AECVCAPI   the C ABI (@_cdecl entry points declared in include/aecv.h); builds libaecv.so
//   CImageCodecs  C shim over libjpeg-turbo and libpng (errors caught by setjmp)
//   CZlib, AECVData   data sets for hosts and tests (IDX, .npy, PNG, image metrics, plots);
//                     not part of libaecv.so
//   CMPI       system library: Open MPI, for `aecv train --distributed` (opt-in build flag)
//   aecv-cli   the `aecv` command-line tool (a host, on the public Swift API)
//
// Shipping flags (-static-stdlib, the export version script, SONAME) are passed by the Makefile,
// not as unsafeFlags here, so the package stays usable as a versioned dependency.
import PackageDescription

let package = Package(
    name: "AECV",
    products: [
        .library(name: "AECV", targets: ["AECV"]),
        .library(name: "aecv", type: .dynamic, targets: ["AECVCAPI"]),
        // The command-line tool. Its product cannot be called `aecv` next to the library product
        // `aecv` (SwiftPM then silently builds only one of them); `make install` installs it as
        // bin/aecv.
        .executable(name: "aecv-cli", targets: ["aecv-cli"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .target(name: "CKernels", path: "Sources/CKernels"),
        // The core, in layers; each target may import only the ones above it (the compiler
        // enforces it: a target cannot see what it does not depend on).
        .target(name: "AECVKernels", dependencies: ["CBLAS", "CKernels"], path: "Sources/AECVKernels"),
        .target(name: "AECVNN", dependencies: ["AECVKernels", "CKernels"], path: "Sources/AECVNN"),
        .target(name: "AECVModels", dependencies: ["AECVNN", "CKernels"], path: "Sources/AECVModels"),
        .target(name: "AECVTasks", dependencies: ["AECVModels"], path: "Sources/AECVTasks"),
        .target(name: "AECVIO", dependencies: ["AECVTasks"], path: "Sources/AECVIO"),
        // `import AECV`: all of the above, re-exported as one public API.
        .target(name: "AECV", dependencies: ["AECVIO"], path: "Sources/AECV"),
        .target(name: "AECVCAPI", dependencies: ["AECV"], path: "Sources/AECVCAPI"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // Open MPI, imported by the CLI only under -DAECV_MPI (`make cli AECV_MPI=1`).
        .systemLibrary(name: "CMPI", path: "Sources/CMPI"),
        // JPEG and PNG decoding through libjpeg-turbo and libpng (C, for their setjmp/longjmp
        // error handling); linked into the data layer and the CLI only, never into libaecv.so.
        .target(name: "CImageCodecs", path: "Sources/CImageCodecs",
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
        .target(name: "AECVData", dependencies: ["AECV", "CZlib", "CImageCodecs"], path: "Sources/AECVData"),
        .testTarget(
            name: "AECVTests", dependencies: ["AECV", "AECVKernels", "AECVNN", "AECVModels", "AECVTasks", "AECVIO", "AECVCAPI", "AECVData", "CKernels"], path: "Tests/AECVTests",
            exclude: ["Fixtures"]),
        .executableTarget(
            name: "aecv-cli",
            dependencies: ["AECV", "AECVData", "CMPI",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/aecv-cli"),
        // Runs the built `aecv-cli` binary on small real data and checks what it writes.
        .testTarget(name: "CLITests", dependencies: ["AECV", "AECVData", "CZlib"], path: "Tests/CLITests"),
    ]
)
