import Crypto
import Foundation
import Logging
import NIOCore
import NIOSSL
import SwiftASN1
import X509

/// The server's certificate and key: read from the configured PEM files, or — when neither exists — a self-signed
/// P-256 certificate created in the data folder on first start (and said so in the log).
enum TLSFiles {
    static func context(dataDirectory: URL, certificate: String, key: String, hostname: String,
                        logger: Logger) throws -> NIOSSLContext {
        let certURL = resolve(certificate, in: dataDirectory)
        let keyURL = resolve(key, in: dataDirectory)
        let fm = FileManager.default
        if !fm.fileExists(atPath: certURL.path) && !fm.fileExists(atPath: keyURL.path) {
            try createSelfSigned(certURL: certURL, keyURL: keyURL, hostname: hostname)
            logger.notice("created a self-signed TLS certificate at \(certURL.path); configure [tls] certificate/key for a real one")
        }
        let chain = try NIOSSLCertificate.fromPEMFile(certURL.path)
        let privateKey = try NIOSSLPrivateKey(file: keyURL.path, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                                     privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = .tlsv12
        // Do not wait the default 5 s for a peer's close_notify: a reset (pending-command rule) must be prompt.
        configuration.shutdownTimeout = .milliseconds(100)
        return try NIOSSLContext(configuration: configuration)
    }

    static func resolve(_ path: String, in dir: URL) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : dir.appendingPathComponent(path)
    }

    static func createSelfSigned(certURL: URL, keyURL: URL, hostname: String) throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            CommonName(hostname)
            OrganizationName("Keep self-signed")
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(10 * 365 * 86_400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                SubjectAlternativeNames([.dnsName(hostname), .dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
            },
            issuerPrivateKey: .init(key))
        try FileManager.default.createDirectory(at: certURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: keyURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(try certificate.serializeAsPEM().pemString.utf8).write(to: certURL, options: .atomic)
        try Data(key.pemRepresentation.utf8).write(to: keyURL, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyURL.path)
    }
}
