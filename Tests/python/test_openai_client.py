"""End-to-end: `llmrun serve` on loopback, driven by the official `openai` Python client.

Run through Tools/test-openai (which makes the virtual environment). The server runs the
default model (Models/SmolLM2-135M-Instruct.Q4_1.gguf) on an ephemeral port; every wait is
bounded, and the server is stopped with SIGTERM at the end (its exit status is checked).
"""
import concurrent.futures
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

import openai

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("LLMRUN", os.path.join(ROOT, ".build", "release", "llmrun"))
MODEL = os.path.join(ROOT, "Models", "SmolLM2-135M-Instruct.Q4_1.gguf")
KEY = "test-key-123"


class ServerProcess:
    def __init__(self, *extra):
        self.proc = subprocess.Popen(
            [BINARY, "serve", "-m", MODEL, "--port", "0", "-t", "2", "-c", "512", "--parallel", "4",
             "--queue", "64", "--api-key", KEY, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr_lines = []
        self.port = None
        found = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.stderr_lines.append(line)
                m = re.search(r"listening on http://[^:]+:(\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    found.set()
        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(60):
            self.proc.kill()
            raise RuntimeError("server did not start: " + "".join(self.stderr_lines))
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except Exception:
                time.sleep(0.2)
        raise RuntimeError("server never became healthy")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            status = None
        out = self.proc.stdout.read()
        return status, out


class OpenAIClientTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(MODEL):
            raise unittest.SkipTest("default model missing: run Tools/fetch-model")
        cls.server = ServerProcess()
        cls.client = openai.OpenAI(base_url=f"http://127.0.0.1:{cls.server.port}/v1", api_key=KEY,
                                   timeout=120, max_retries=0)

    @classmethod
    def tearDownClass(cls):
        status, out = cls.server.stop()
        # SIGTERM: graceful exit 0, and nothing ever written to stdout.
        assert status == 0, f"serve exited {status}: {''.join(cls.server.stderr_lines[-5:])}"
        assert out == "", f"serve wrote to stdout: {out!r}"

    def messages(self):
        return [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Name three colours."}]

    def test_plain_and_streaming_chat_agree(self):
        plain = self.client.chat.completions.create(model="SmolLM2-135M-Instruct.Q4_1", messages=self.messages(),
                                                    temperature=0, seed=7, max_tokens=32)
        text = plain.choices[0].message.content
        self.assertTrue(text)
        self.assertIn(plain.choices[0].finish_reason, ("stop", "length"))
        self.assertGreater(plain.usage.completion_tokens, 0)
        stream = self.client.chat.completions.create(model="SmolLM2-135M-Instruct.Q4_1", messages=self.messages(),
                                                     temperature=0, seed=7, max_tokens=32, stream=True,
                                                     stream_options={"include_usage": True})
        pieces, usage, reasons = [], None, []
        for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                if choice.delta.content:
                    pieces.append(choice.delta.content)
                if choice.finish_reason:
                    reasons.append(choice.finish_reason)
        self.assertEqual("".join(pieces), text)
        self.assertEqual(reasons, [plain.choices[0].finish_reason])
        self.assertEqual(usage.completion_tokens, plain.usage.completion_tokens)
        # The second identical prompt found its tokens in a slot's cache.
        self.assertGreater(usage.prompt_tokens_details.cached_tokens, 0)

    def test_completion(self):
        r = self.client.completions.create(model="any", prompt="The capital of France is", max_tokens=8, temperature=0)
        self.assertEqual(r.object, "text_completion")
        self.assertTrue(r.choices[0].text)
        self.assertEqual(r.usage.completion_tokens, 8)

    def test_model_list(self):
        ids = [m.id for m in self.client.models.list()]
        self.assertEqual(ids, ["SmolLM2-135M-Instruct.Q4_1"])

    def test_bad_request_and_bad_key_raise_the_clients_exceptions(self):
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.chat.completions.create(model="m", messages=self.messages(), n=2)
        self.assertIn("n = 1", str(e.exception))
        bad = openai.OpenAI(base_url=self.client.base_url, api_key="wrong", max_retries=0, timeout=30)
        with self.assertRaises(openai.AuthenticationError):
            bad.models.list()

    def test_closed_stream_then_next_request_served(self):
        stream = self.client.chat.completions.create(model="m", messages=self.messages(), max_tokens=400,
                                                     temperature=1, seed=1, stream=True)
        seen = 0
        for _ in stream:
            seen += 1
            if seen == 2:
                break
        stream.close()
        r = self.client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}],
                                                max_tokens=4, temperature=0)
        self.assertTrue(r.choices[0].message.content is not None)

    def test_32_concurrent_requests_all_answered(self):
        def one(i):
            r = self.client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": f"Count to {i % 5 + 2}."}],
                max_tokens=8, temperature=0.7, seed=i)
            return r.usage.completion_tokens
        with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
            counts = list(pool.map(one, range(32), timeout=300))
        self.assertEqual(len(counts), 32)
        self.assertTrue(all(c > 0 for c in counts))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
