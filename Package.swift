// swift-tools-version:5.9
// libaecv: autoencoders for computer vision, in Swift, behind a stable C ABI.
//
// Targets, in the layering order of DESIGN.md:
//   CBLAS      system library: OpenBLAS's cblas.h (only Kernels/ imports it)
//   AECV       the core: kernels, tensors, layers, losses, optimizers, models, serialization
//   AECVCAPI   the C ABI (@_cdecl entry points declared in include/aecv.h); builds libaecv.so
//   CZlib, AECVData   data sets for hosts and tests (IDX files, gzip); not part of libaecv.so
//
// Shipping flags (-static-stdlib, the export version script, SONAME) are passed by the Makefile,
// not as unsafeFlags here, so the package stays usable as a versioned dependency.
import PackageDescription

let package = Package(
    name: "AECV",
    products: [
        .library(name: "AECV", targets: ["AECV"]),
        .library(name: "aecv", type: .dynamic, targets: ["AECVCAPI"]),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .target(name: "AECV", dependencies: ["CBLAS"], path: "Sources/AECV"),
        .target(name: "AECVCAPI", dependencies: ["AECV"], path: "Sources/AECVCAPI"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "AECVData", dependencies: ["AECV", "CZlib"], path: "Sources/AECVData"),
        .testTarget(
            name: "AECVTests", dependencies: ["AECV", "AECVCAPI", "AECVData"], path: "Tests/AECVTests",
            exclude: ["Fixtures"]),
    ]
)
