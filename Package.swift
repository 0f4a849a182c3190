// swift-tools-version:6.0
import PackageDescription

// Formats and kernels know nothing of models; the model knows nothing of the CLI;
// pruning runs on the same forward code as inference.
let optimize: [CSetting] = [.unsafeFlags(["-O3"])]

let package = Package(
    name: "llmrun",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "llmrun", targets: ["llmrun"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "GGUF"),
        .target(name: "CKernels", cSettings: optimize),
        .target(
            name: "CSentencePiece",
            cxxSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("sentencepiece"), .linkedLibrary("stdc++")]
        ),
        .target(name: "Tokenizers", dependencies: ["GGUF", "CSentencePiece"]),
        .target(name: "LineEditing"),
        .target(
            name: "LLMRuntime",
            dependencies: ["GGUF", "CKernels", "Tokenizers"],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        .target(name: "LLMPrune", dependencies: ["LLMRuntime", "GGUF", "CKernels", "Tokenizers"], exclude: ["Resources/README.md"], resources: [.copy("Resources/calibration-c4.txt")]),
        .executableTarget(
            name: "llmrun",
            dependencies: [
                "LLMRuntime", "LLMPrune", "GGUF", "Tokenizers", "CKernels", "LineEditing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "TestSupport", dependencies: ["GGUF", "LLMRuntime"], path: "Tests/TestSupport"),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "CKernels", "LLMRuntime", "TestSupport"]),
        .testTarget(name: "KernelTests", dependencies: ["CKernels", "GGUF", "LLMRuntime", "TestSupport"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizers", "GGUF"]),
        .testTarget(name: "RuntimeTests", dependencies: ["LLMRuntime", "GGUF", "TestSupport"]),
        .testTarget(name: "PruneTests", dependencies: ["LLMPrune", "LLMRuntime", "GGUF", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "GGUF"]),
        .testTarget(name: "LineEditingTests", dependencies: ["LineEditing"]),
    ],
    cxxLanguageStandard: .cxx17
)
