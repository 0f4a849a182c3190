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
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.0.0"),
    ],
    targets: [
        .target(name: "GGUF"),
        .target(name: "CKernels", cSettings: optimize),
        .target(name: "CBuildInfo"),
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
        // What turns request bytes into a typed request or an API error, apart from the HTTP
        // stack, so a fuzz harness reaches the server's own decoding without Hummingbird.
        .target(name: "LLMServerAPI", dependencies: ["LLMRuntime", "Tokenizers"]),
        .target(
            name: "LLMServer",
            dependencies: [
                "LLMRuntime", "LLMPrune", "LLMServerAPI", "Tokenizers",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // Imported directly (a client socket's TCP state, the request log): named, not
                // reached through Hummingbird's own dependencies.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "llmrun",
            dependencies: [
                "LLMRuntime", "LLMPrune", "LLMServer", "GGUF", "Tokenizers", "CKernels", "LineEditing", "CBuildInfo",
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
        .testTarget(name: "ServerTests", dependencies: ["LLMServer", "LLMServerAPI", "LLMRuntime", "TestSupport", "GGUF", "Tokenizers"]),
    ],
    cxxLanguageStandard: .cxx17
)

// libFuzzer harnesses (Tests/Fuzz), declared only when Tools/fuzz builds them: they have no
// main of their own (libFuzzer's is linked in with -sanitize=fuzzer), so a normal build must
// not see them.
if Context.environment["LLMRUN_FUZZ"] == "1" {
    package.targets += [
        .target(name: "FuzzSupport", dependencies: ["GGUF", "LLMRuntime", "Tokenizers"], path: "Tests/Fuzz/FuzzSupport"),
        .executableTarget(name: "fuzz-gguf", dependencies: ["FuzzSupport", "GGUF", "LLMRuntime", "Tokenizers", "TestSupport"],
                          path: "Tests/Fuzz/gguf"),
        .executableTarget(name: "fuzz-tokenizers", dependencies: ["FuzzSupport", "GGUF", "Tokenizers"],
                          path: "Tests/Fuzz/tokenizers"),
        .executableTarget(name: "fuzz-vocab", dependencies: ["FuzzSupport", "GGUF", "Tokenizers"],
                          path: "Tests/Fuzz/vocab"),
        .executableTarget(name: "fuzz-chat-template", dependencies: ["FuzzSupport", "Tokenizers"],
                          path: "Tests/Fuzz/chat-template"),
        .executableTarget(name: "fuzz-serve-request", dependencies: ["FuzzSupport", "LLMRuntime", "LLMServerAPI", "Tokenizers"],
                          path: "Tests/Fuzz/serve-request"),
    ]
}
