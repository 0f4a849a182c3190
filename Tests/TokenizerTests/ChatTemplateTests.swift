import Foundation
import GGUF
import Tokenizers
import XCTest

final class ChatTemplateTests: XCTestCase {
    let conversation: [ChatMessage] = [.system("Be brief."), .user("Hi!"), .assistant("Hello."), .user("Bye?")]

    // MARK: rendering, per kind

    func testChatML() {
        XCTAssertEqual(
            ChatTemplateKind.chatml.render(conversation, addGenerationPrompt: true, bos: nil),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye?<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(
            ChatTemplateKind.chatml.render([.user("Hi!")], addGenerationPrompt: false, bos: nil),
            "<|im_start|>user\nHi!<|im_end|>\n")
    }

    func testLlama2() {
        XCTAssertEqual(
            ChatTemplateKind.llama2.render(conversation, addGenerationPrompt: true, bos: "<s>", eos: "</s>"),
            "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi! [/INST] Hello. </s><s>[INST] Bye? [/INST]")
        XCTAssertEqual(
            ChatTemplateKind.llama2.render([.user("  padded  ")], addGenerationPrompt: true, bos: nil),
            "[INST] padded [/INST]")
    }

    func testLlama3() {
        XCTAssertEqual(
            ChatTemplateKind.llama3.render(conversation, addGenerationPrompt: true, bos: "<|begin_of_text|>"),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nBye?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n")
    }

    func testGemmaFoldsSystemIntoFirstUserTurn() {
        XCTAssertEqual(
            ChatTemplateKind.gemma.render(conversation, addGenerationPrompt: true, bos: "<bos>"),
            "<bos><start_of_turn>user\nBe brief.\n\nHi!<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
                + "<start_of_turn>user\nBye?<end_of_turn>\n<start_of_turn>model\n")
        XCTAssertEqual(
            ChatTemplateKind.gemma.render([.user(" Hi ")], addGenerationPrompt: false, bos: nil),
            "<start_of_turn>user\nHi<end_of_turn>\n")
    }

    func testZephyr() {
        XCTAssertEqual(
            ChatTemplateKind.zephyr.render(conversation, addGenerationPrompt: true, bos: nil, eos: "</s>"),
            "<|system|>\nBe brief.</s>\n<|user|>\nHi!</s>\n<|assistant|>\nHello.</s>\n<|user|>\nBye?</s>\n<|assistant|>\n")
    }

    // MARK: detection on real template texts

    static let llama3Template = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    static let gemmaTemplate = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
    static let zephyrTemplate = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
    static let llama2Template = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
    /// Qwen2.5-Coder-Instruct's template (tool branch shortened).
    static let qwen25Template = "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- messages[0]['content'] }}\n    {%- else %}\n        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\" and not message.tool_calls) %}\n        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n"

    func testDetection() {
        XCTAssertEqual(ChatTemplateKind.detect(from: Self.llama3Template), .llama3)
        XCTAssertEqual(ChatTemplateKind.detect(from: Self.gemmaTemplate), .gemma)
        XCTAssertEqual(ChatTemplateKind.detect(from: Self.zephyrTemplate), .zephyr)
        XCTAssertEqual(ChatTemplateKind.detect(from: Self.llama2Template), .llama2)
        XCTAssertEqual(ChatTemplateKind.detect(from: Self.qwen25Template), .chatml)
        XCTAssertNil(ChatTemplateKind.detect(from: "{{ messages }}"))
        XCTAssertNil(ChatTemplate(jinja: Self.llama3Template)?.defaultSystemPrompt)
        XCTAssertEqual(ChatTemplate(jinja: Self.qwen25Template)?.defaultSystemPrompt,
                       "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
    }

    func testSmolLM2TemplateFromModelFile() throws {
        try TestResources.requireFile(TestResources.smolLM2Path)
        let file = try GGUFFile(path: TestResources.smolLM2Path)
        let jinja = try XCTUnwrap(file["tokenizer.chat_template"]?.stringValue)
        XCTAssertEqual(ChatTemplateKind.detect(from: jinja), .chatml)
        let template = try XCTUnwrap(ChatTemplate(file: file))
        XCTAssertEqual(template.kind, .chatml)
        XCTAssertEqual(template.defaultSystemPrompt, "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        // No system message: the template inserts its own.
        XCTAssertEqual(
            template.render([.user("What is 2+2?")], addGenerationPrompt: true, bos: nil),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")
        // An empty conversation renders nothing but the generation prompt.
        XCTAssertEqual(template.render([], addGenerationPrompt: true, bos: nil), "<|im_start|>assistant\n")
        // A given system message replaces it.
        XCTAssertEqual(
            template.render([.system("Be brief."), .user("Hi")], addGenerationPrompt: false, bos: nil),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
    }

    func testRenderedChatTokenizesLikeLlamaCpp() throws {
        // The last smollm2-135m golden string is exactly a rendered one-turn ChatML prompt.
        let t = try TestResources.smolLM2()
        let prompt = ChatTemplateKind.chatml.render([.user("Hi there!")], addGenerationPrompt: true, bos: nil)
        XCTAssertEqual(prompt, "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(t.encodeChat(prompt), [1, 4093, 198, 26843, 665, 17, 2, 198, 1, 520, 9531, 198])
    }

    func testOtherVocabularyTemplates() throws {
        // Qwen2 vocabulary file: ChatML with a default system prompt.
        let qwen = try TestResources.openGGUF(TestResources.vocabDir.appendingPathComponent("ggml-vocab-qwen2.gguf").path)
        let qt = try XCTUnwrap(ChatTemplate(file: qwen))
        XCTAssertEqual(qt.kind, .chatml)
        XCTAssertEqual(qt.defaultSystemPrompt, "You are a helpful assistant")
        // Phi-3's template (<|user|> … <|end|>) is none of the supported kinds.
        let phi = try TestResources.openGGUF(TestResources.vocabDir.appendingPathComponent("ggml-vocab-phi-3.gguf").path)
        XCTAssertNil(ChatTemplate(file: phi))
    }
}
