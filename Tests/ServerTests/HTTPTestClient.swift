import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking HTTP/1.1 client over a loopback socket, so tests see the bytes exactly
/// as sent (status line, headers, SSE framing) and can hang up mid-stream.
struct HTTPTestResponse {
    var status: Int
    var headers: [String: String]
    var body: String

    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
    }
    /// The `data:` payloads of an event stream, in order.
    var events: [String] {
        body.components(separatedBy: "\n\n").compactMap { block in
            block.hasPrefix("data: ") ? String(block.dropFirst(6)) : nil
        }
    }
}

enum HTTPTestError: Error { case connect(Int32), timeout, malformed(String) }

final class HTTPTestConnection {
    let fd: Int32

    init(port: Int, timeout: Double = 60) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { close(fd); throw HTTPTestError.connect(errno) }
    }

    deinit { close(fd) }

    func send(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += Array(body.utf8) }
        bytes.withUnsafeBytes { p in
            var sent = 0
            while sent < p.count {
                let n = Glibc.send(fd, p.baseAddress! + sent, p.count - sent, Int32(MSG_NOSIGNAL))
                if n <= 0 { return }
                sent += n
            }
        }
    }

    /// Reads until `stop` says enough (given what arrived so far) or the server closes.
    func read(until stop: (String) -> Bool = { _ in false }) throws -> String {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 { throw HTTPTestError.timeout }
            if n == 0 { break }
            data += buffer[0..<n]
            if stop(String(decoding: data, as: UTF8.self)) { break }
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func parse(_ raw: String) throws -> HTTPTestResponse {
        guard let split = raw.range(of: "\r\n\r\n") else { throw HTTPTestError.malformed(raw) }
        let lines = raw[..<split.lowerBound].components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw HTTPTestError.malformed(raw) }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            if let c = line.firstIndex(of: ":") {
                headers[line[..<c].lowercased()] = line[line.index(after: c)...].trimmingCharacters(in: .whitespaces)
            }
        }
        var body = String(raw[split.upperBound...])
        if headers["transfer-encoding"] == "chunked" { body = dechunk(body) }
        return HTTPTestResponse(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ s: String) -> String {
        var bytes = Array(s.utf8)[...]
        var out = [UInt8]()
        while let crlf = bytes.indices.first(where: { bytes[$0] == 13 && $0 + 1 < bytes.endIndex && bytes[$0 + 1] == 10 }) {
            guard let size = Int(String(decoding: bytes[bytes.startIndex..<crlf], as: UTF8.self), radix: 16), size > 0 else { break }
            let start = crlf + 2
            out += bytes[start..<min(start + size, bytes.endIndex)]
            bytes = bytes[min(start + size + 2, bytes.endIndex)...]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// One request on a fresh connection.
func http(_ port: Int, _ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:],
          timeout: Double = 60) throws -> HTTPTestResponse {
    let c = try HTTPTestConnection(port: port, timeout: timeout)
    c.send(method, path, body: body, headers: headers)
    return try HTTPTestConnection.parse(try c.read())
}
