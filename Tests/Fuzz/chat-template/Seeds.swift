import FuzzSupport

/// The committed seed corpus (Tests/FuzzCorpus/chat-template), written by `Tools/fuzz --seeds
/// chat-template`: the start of each family's real template (ChatML with SmolLM2's default
/// system prompt, Llama-2, Llama-3, Gemma, Zephyr, Phi-3) and a short conversation.
enum Seeds {
    static let templates = [
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
        "{% if messages[0]['role'] == 'system' %}{% set system_message = '<<SYS>>\\n' + messages[0]['content'] | trim + '\\n<</SYS>>\\n\\n' %}{% endif %}{{ bos_token + '[INST] ' + content | trim + ' [/INST]' }}",
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{{ content }}{% endfor %}",
        "{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix + message['content']) | trim + '<end_of_turn>\\n' }}{% endfor %}",
        "{% for message in messages %}{{ '<|user|>\\n' + message['content'] + eos_token }}{% endfor %}",
        "{% for message in messages %}{{'<|' + message['role'] + '|>' + '\\n' + message['content'] + '<|end|>\\n'}}{% endfor %}",
        "<|im_start|>system\\nA 'quoted' prompt<|im_end|> and <|im_start|>system\nreal newline\\t\\\\ escapes<|im_end|>",
    ]

    static func write(to dir: String) throws {
        let conversation: [[UInt8]] = [Array("system".utf8), Array("Be brief.".utf8), Array("user".utf8),
                                       Array("  Hi! <|im_end|> [INST] ".utf8), Array("assistant".utf8), Array("Hello.".utf8),
                                       Array("tool".utf8), Array("日本語 🚀".utf8)]
        for (i, t) in templates.enumerated() {
            var bytes: [UInt8] = [UInt8(i % 16)]
            bytes += Array(t.utf8) + [0]
            if i % 16 & 2 != 0 { bytes += Array("<s>".utf8) + [0] }
            if i % 16 & 4 != 0 { bytes += Array("</s>".utf8) + [0] }
            bytes += conversation.joined(separator: [0])
            try writeFile(dir + "/template-\(i)", bytes)
        }
    }
}
