import FuzzSupport

/// The committed seed corpus (Tests/FuzzCorpus/serve-request), written by `Tools/fuzz --seeds
/// serve-request`: request bodies as OpenAI's clients send them (string and text-part content,
/// stop as a string or a list, stream_options, n, seed) and as they go wrong (unknown fields,
/// wrong types, huge numbers, nesting up to and past the depth limit, escapes and lone surrogates, not JSON at all).
enum Seeds {
    static let bodies: [(name: String, json: String)] = [
        ("chat", #"{"model":"smollm2","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there"}],"temperature":0,"seed":1,"max_tokens":12}"#),
        ("chat-parts", #"{"model":"m","messages":[{"role":"developer","content":[{"type":"text","text":"Answer "},{"type":"text","text":"in French."}]},{"role":"user","name":"ann","content":[{"type":"text","text":"Bonjour"}]},{"role":"assistant","content":"Salut"}],"max_completion_tokens":5}"#),
        ("chat-stream", #"{"model":"m","messages":[{"role":"user","content":"Count"}],"stream":true,"stream_options":{"include_usage":true},"n":1,"stop":"\n","top_p":0.9,"top_k":40,"min_p":0.05,"user":"u-1"}"#),
        ("chat-stops", #"{"messages":[{"role":"user","content":"List"}],"stop":["a","\u00e9\ud83d\ude80","</s>",""],"presence_penalty":-2,"frequency_penalty":2,"repeat_penalty":1.1,"response_format":{"type":"text"},"logprobs":false}"#),
        ("chat-unknown", #"{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function"}],"n":2,"logprobs":true}"#),
        ("chat-wrong-types", #"{"messages":[{"role":"tool","content":null},{"role":1,"content":{"x":1}},{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}],"temperature":"0.5","stream":"yes","max_tokens":1.5,"stop":[1]}"#),
        ("chat-huge", #"{"messages":[{"role":"user","content":"x"}],"max_tokens":1e300,"seed":18446744073709551615,"top_k":-9007199254740993,"temperature":2.0000000000000004,"min_p":-0.0,"n":1E0}"#),
        ("chat-escapes", #"{"messages":[{"role":"user","content":"\u0000 nul, \"q\" \\ \/ \b\f\n\r\t \uFFFF \uD83D\uDE00 \u00e9"}],"model":"\u006d"}"#),
        ("chat-lone-surrogates", #"{"messages":[{"role":"user","content":"\ud800 lone, \udc00 low, \ud83d\u0041"}]}"#),
        ("completion", #"{"model":"m","prompt":"Once upon a time","max_tokens":16,"temperature":0.8,"stop":["\n\n"],"echo":false,"logprobs":null,"seed":-1}"#),
        ("completion-ids", #"{"prompt":[1,2,3,49151],"max_tokens":0}"#),
        ("completion-nested-ids", #"{"prompt":[[15339,1917]],"stream":false}"#),
        ("completion-bad-ids", #"{"prompt":[-1,49152,1e9,0.5,2147483648]}"#),
        ("completion-many", #"{"prompt":["one","two"],"n":3,"echo":true}"#),
        ("tokenize", #"{"content":"Hello <|im_start|> world","add_special":true,"parse_special":false,"with_pieces":true}"#),
        ("detokenize", #"{"tokens":[0,1,2,49151,49152,-1,3.5]}"#),
        ("deep", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"user\":" + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "}"),
        ("deep-objects", String(repeating: "{\"a\":[", count: 40) + "\"]}[\"" + String(repeating: "]}", count: 40)),
        ("duplicate-keys", #"{"prompt":"a","prompt":"b","max_tokens":1,"max_tokens":-1}"#),
        ("numbers", #"[0,-0,-1E+308,123456789012345678901234567890,0.1,5e-324,1.7976931348623157e308,4.9e-324,1e15,999999999999999.9]"#),
        ("number-overflow", #"{"prompt":"a","max_tokens":1e400,"seed":1e-400}"#),
        ("not-json", "{\"messages\": [ {\"role\": \"user\", \"content\": \"unterminated}\u{FEFF}"),
        ("scalars", "  \"just a string\"  "),
    ]

    static func write(to dir: String) throws {
        for (name, json) in bodies { try writeFile(dir + "/" + name + ".json", Array(json.utf8)) }
    }
}
