"""The built-in LLM's input embeddings as a starting point for a model that learns from nothing else (an RNN or
Mamba-2 with ``model.init_embeddings=llm``): the same word representation for every family that reads SmolLM2's
tokens."""

from __future__ import annotations

from hf_rnn.assets.cache import ensure_builtin_llm
from hf_rnn.errors import ConfigError


def copy_llm_embeddings(model, tokenizer, width: str = "embedding_size") -> None:
    """Start ``model``'s token embeddings from the built-in LLM's input embeddings.

    The model reads SmolLM2's token ids, so SmolLM2's embedding table is a ready-made
    word representation learned on far more text than any task split: the model then
    trains on top of it (frozen where the recipe says ``freeze_embeddings``). ``width``: the recipe key that
    sets the table's width in this family (an RNN's ``embedding_size``; Mamba-2's ``embedding_size``, or
    ``hidden_size`` without a projection).
    """
    import torch
    from safetensors import safe_open

    folder = ensure_builtin_llm()
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        table = f.get_tensor("model.embed_tokens.weight")
    embeddings = model.get_input_embeddings()
    if embeddings is None or tuple(embeddings.weight.shape) != tuple(table.shape):
        shape = None if embeddings is None else tuple(embeddings.weight.shape)
        raise ConfigError(f"model.init_embeddings=llm needs the LLM's tokenizer and {width}={table.shape[1]} "
                          f"(embedding table {tuple(table.shape)}; this model's is {shape})")
    with torch.no_grad():
        embeddings.weight.copy_(table)
