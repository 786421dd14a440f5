// swift-tools-version:5.9
// A program that uses libaecv as a Swift package dependency, the way an application would:
//   cd examples/swift && swift run -c release
//
// SwiftPM names a path dependency after the last component of its path (a clone in ~/libaecv is
// the package "libaecv"), not after the `name:` in its manifest, so `.product(..., package:)`
// must use that identity. Here the dependency is this repository (../..), whatever its directory
// is called, so the identity is derived from the path; in your own manifest write it out:
//   .package(path: "path/to/libaecv"), .product(name: "AECV", package: "libaecv")
import Foundation
import PackageDescription

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../..").standardizedFileURL
let identity = repository.lastPathComponent.lowercased()

let package = Package(
    name: "aecv-swift-example",
    dependencies: [.package(path: "../..")],
    targets: [
        .executableTarget(
            name: "aecv-swift-example",
            dependencies: [.product(name: "AECV", package: identity)]),
    ]
)
