/// An error answered to a client, in OpenAI's error-object shape with its HTTP status.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var message: String
    /// OpenAI's `type`: invalid_request_error, authentication_error, ...
    public var type: String
    public var code: String?
    public var param: String?
    /// Seconds for a Retry-After header (503).
    public var retryAfter: Int?

    public init(status: Int, message: String, type: String, code: String? = nil, param: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status) \(message)" }

    public var body: JSONValue {
        ["error": .object([
            "message": .string(message), "type": .string(type),
            "code": JSONValue(code), "param": JSONValue(param),
        ])]
    }

    public static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", code: code, param: param)
    }
    public static let unauthorized = APIError(status: 401, message: "missing or wrong API key: send the header 'Authorization: Bearer KEY'",
                                       type: "authentication_error", code: "invalid_api_key")
    public static func notFound(_ path: String) -> APIError {
        APIError(status: 404, message: "no route \(path) (routes: /v1/chat/completions, /v1/completions, /v1/models, /health, /metrics, /tokenize, /detokenize)",
                 type: "invalid_request_error", code: "not_found")
    }
    public static func methodNotAllowed(_ method: String, _ path: String, allowed: String) -> APIError {
        APIError(status: 405, message: "\(method) is not allowed on \(path) (use \(allowed))", type: "invalid_request_error", code: "method_not_allowed")
    }
    public static func tooLarge(limit: Int) -> APIError {
        APIError(status: 413, message: "the request body is over the limit of \(limit) bytes (--max-body)", type: "invalid_request_error", code: "request_too_large")
    }
    public static func unavailable(_ message: String, retryAfter: Int = 1) -> APIError {
        APIError(status: 503, message: message, type: "server_error", code: "unavailable", retryAfter: retryAfter)
    }
}
