import GGUF
