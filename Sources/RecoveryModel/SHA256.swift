import CCrypto

/// SHA-256, streaming: names plans and fingerprints their inputs and rows file. A wrapper over
/// OpenSSL's `EVP_Digest*` (libcrypto), which uses the CPU's SHA instructions; checked against
/// `sha256sum` and the FIPS 180-4 examples in the tests.
///
/// Not Sendable: it owns an `EVP_MD_CTX`, used by one thread at a time.
public final class SHA256 {
    private let context: OpaquePointer
    private var finished = false

    public init() {
        // EVP_MD_CTX_new fails only when memory is exhausted.
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        self.context = context
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    /// `EVP_DigestUpdate`
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "SHA256.update after finalize")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    public func update(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    public func update(_ text: String) {
        var text = text
        text.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// The digest as 64 lowercase hex digits (`EVP_DigestFinal_ex`); call once.
    public func finalize() -> String {
        precondition(!finished, "SHA256.finalize called twice")
        finished = true
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in digest.prefix(Int(length)) {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func hex(_ text: String) -> String {
        let h = SHA256()
        h.update(text)
        return h.finalize()
    }
}
