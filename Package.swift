// swift-tools-version:5.9
// libaecv: autoencoders for computer vision, in Swift, behind a stable C ABI.
//
// Targets, in layering order (docs/ARCHITECTURE.md):
//   CBLAS      system library: OpenBLAS's cblas.h (only Kernels/ imports it)
//   CKernels   C loops Swift cannot vectorize (the Adam update's square roots); internal symbols
//   AECV       the core: kernels, tensors, layers, losses, optimizers, models, serialization
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
        .target(name: "AECV", dependencies: ["CBLAS", "CKernels"], path: "Sources/AECV"),
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
            name: "AECVTests", dependencies: ["AECV", "AECVCAPI", "AECVData", "CKernels"], path: "Tests/AECVTests",
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
