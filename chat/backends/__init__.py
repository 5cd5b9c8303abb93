"""LLM backends: one small async streaming interface, one module per backend."""
