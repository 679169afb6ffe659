"""hf_rnn: RNNs and a small LLM, side by side, on the same tasks."""

__version__ = "0.1.0"
