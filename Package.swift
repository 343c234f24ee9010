// swift-tools-version:6.0
import PackageDescription

// Three executables, one per process (see DESIGN.md): the privileged supervisor, the
// unprivileged SMTP worker and the credential agent. What two of them share lives in Shared.
let package = Package(
    name: "ses-smtpd-proxy",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ses-smtpd-proxy", targets: ["supervisor"]),
        .executable(name: "ses-smtp-worker", targets: ["smtp-worker"]),
        .executable(name: "ses-cred-agent", targets: ["cred-agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CCurl",
            path: "Sources/CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Typed wrappers for what Swift cannot call directly: prctl, SO_PEERCRED, and a fork/exec
        // that only runs async-signal-safe code.
        .target(name: "CShim", path: "Sources/CShim"),
        // libcurl and its client, apart from Shared so that the supervisor (root) never loads an
        // HTTP/TLS stack it does not use (DESIGN-CHANGES.md).
        .target(name: "CCurlShim", dependencies: ["CCurl"], path: "Sources/CCurlShim"),
        // crypt_rn for SMTP AUTH: the worker alone checks passwords, so only it links libcrypt.
        .target(name: "CCryptShim", path: "Sources/CCryptShim", linkerSettings: [.linkedLibrary("crypt")]),
        .target(name: "HTTPTransport", dependencies: ["CCurl", "CCurlShim"]),
        // The SMTP protocol core (STYLE §3): pure values, bytes in and actions out. A library of its
        // own so that the worker and the fuzzer run the same code.
        .target(name: "SMTPCore", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // libFuzzer entry point over SMTPCore; `make fuzz` builds it with -sanitize=fuzzer.
        .executableTarget(name: "smtp-fuzz", dependencies: ["SMTPCore", .product(name: "NIOCore", package: "swift-nio")]),
        // libFuzzer over the IPC decoders, Shared's parsers (XML answers, endpoints, allow-lists) and
        // the agent's documents (Vault, STS, metadata and credential_process answers).
        .executableTarget(
            name: "shared-fuzz", dependencies: ["Shared", "CredentialDocuments", .product(name: "NIOCore", package: "swift-nio")]),
        .target(
            name: "Shared",
            dependencies: [
                "CShim",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // What the agent reads from Vault, STS and the metadata services, parsed without I/O: a
        // library so that the agent and shared-fuzz run the same code.
        .target(name: "CredentialDocuments", dependencies: ["Shared"]),
        .executableTarget(
            name: "supervisor",
            dependencies: [
                "Shared", "CShim",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "smtp-worker",
            dependencies: [
                "Shared", "CShim", "SMTPCore", "HTTPTransport", "CCryptShim",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "cred-agent",
            dependencies: [
                "Shared", "CShim", "HTTPTransport", "CredentialDocuments",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "SharedTests",
            dependencies: ["Shared", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "SMTPCoreTests",
            dependencies: ["SMTPCore", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "SMTPWorkerTests",
            dependencies: [
                "smtp-worker", "Shared", "SMTPCore", "HTTPTransport", "CCryptShim",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "SupervisorTests", dependencies: ["supervisor", "Shared"]),
        .testTarget(name: "CredAgentTests", dependencies: ["cred-agent", "CredentialDocuments", "Shared"]),
    ]
)
