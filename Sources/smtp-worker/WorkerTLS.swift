import NIOSSL
import Shared

/// What the worker was told of TLS; the certificate and key come as `WorkerFile` descriptors.
struct TLSSettings: Equatable, Sendable {
    /// `--tls-listen`: the supervisor passed a second listener, TLS from the first byte.
    var implicitListener: Bool
}

/// The one server TLS context: the chain and key the supervisor opened, TLS 1.2 and 1.3 only.
enum WorkerTLS {
    static func context(from settings: TLSSettings) throws(WorkerError) -> NIOSSLContext {
        let chainBytes = try read(.tlsCertificate)
        let keyBytes = try read(.tlsKey)
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(chainBytes)
        } catch {
            throw WorkerError(description: "--tls-cert: not a PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw WorkerError(description: "--tls-cert: no certificate in the file") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
        } catch {
            throw WorkerError(description: "--tls-key: not a PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = .tlsv13
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw WorkerError(description: "--tls-cert and --tls-key do not make a usable pair (\(error))")
        }
    }

    private static func read(_ file: WorkerFile) throws(WorkerError) -> [UInt8] {
        do {
            return try DescriptorFile.readAll(file.descriptor, limit: WorkerFile.maxBytes)
        } catch {
            throw WorkerError(description: "\(file.flag): cannot read the file the supervisor opened: \(error)")
        }
    }
}
