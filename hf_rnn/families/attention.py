"""Attention maps of any model family, in one structure (the lecture's "Heatmap of Attention Weights").

``hf_rnn.attention_maps(model, tokenizer, text)`` (``hf_rnn.families.attention_maps``) asks the model's family,
which builds the maps with one of the builders here (``rnn_attention_maps``, ``self_attention_maps``) or its own,
and returns an :class:`AttentionMaps` whatever the model is. This module imports no family: the families import
it, for the structure and the builders.

- an RNN classifier with attention pooling (``RNNConfig(attention="additive"|"dot"|"general")``):
  kind ``"pooling"``, one query (``"[pooled]"``) over the input tokens;
- an RNN encoder-decoder with attention: kind ``"encoder-decoder alignment"``, the target tokens (generated
  greedily, or ``target_text`` teacher-forced) as queries over the source tokens;
- a decoder-only transformer (the built-in SmolLM2 or any other): kind ``"self-attention"``, every layer and
  head over the prompt, and with ``generate=True`` over the generated tokens as well.

``weights`` always has shape ``[layer, head, query, key]`` (an RNN has one layer and one head of attention),
so the plots in :mod:`hf_rnn.report.plots` and a web app can treat both families the same way.

>>> maps = hf_rnn.attention_maps(model, tokenizer, "Good, cheap food!", generate=True)
>>> maps.weights.shape          # SmolLM2: (30, 9, prompt + generated, prompt + generated)
>>> maps.average()              # [query, key], mean over layers and heads
"""

from __future__ import annotations

import codecs
import contextlib
import copy
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from hf_rnn.errors import InputError
from hf_rnn.generation import (
    cache_argument,
    decoder_start_id,
    greedy_generate,
    output_cache,
    pad_id,
    read_cache,
)
from hf_rnn.tokenization import ids_with_eos

KINDS = ("self-attention", "encoder-decoder alignment", "pooling")
POOLED_QUERY = "[pooled]"
_DICT_FORMAT = "hf_rnn.attention_maps/1"


# --------------------------------------------------------------------------------------------------------------
# The structure
# --------------------------------------------------------------------------------------------------------------


@dataclass
class AttentionMaps:
    """Attention weights of one input, for any model family.

    Attributes:
        query_tokens: readable token strings of the rows (the tokens that attend).
        key_tokens: readable token strings of the columns (the tokens attended to).
        weights: ``np.ndarray`` of shape ``[layer, head, query, key]``; each row sums to 1 over the keys
            (zeros above the diagonal for causal self-attention).
        kind: ``"self-attention"``, ``"encoder-decoder alignment"`` or ``"pooling"``.
        model_name: a short name for titles.
        prompt_length: for self-attention, how many leading tokens are the prompt (the rest were generated or
            teacher-forced); ``None`` when not applicable.
        text: the input text.
    """

    query_tokens: list[str]
    key_tokens: list[str]
    weights: np.ndarray
    kind: str
    model_name: str = "model"
    prompt_length: int | None = None
    text: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, dtype=np.float32)
        if self.weights.ndim != 4:
            raise InputError(f"weights must have shape [layer, head, query, key]; got shape {self.weights.shape}")
        if self.kind not in KINDS:
            raise InputError(f"kind must be one of {KINDS}; got {self.kind!r}")
        _, _, n_query, n_key = self.weights.shape
        if len(self.query_tokens) != n_query or len(self.key_tokens) != n_key:
            raise InputError(
                f"{len(self.query_tokens)} query and {len(self.key_tokens)} key tokens do not match weights of "
                f"shape {self.weights.shape}"
            )
        self.query_tokens = [str(t) for t in self.query_tokens]
        self.key_tokens = [str(t) for t in self.key_tokens]

    @property
    def num_layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.weights.shape[1])

    def select(self, layer: int | None = None, head: int | None = None) -> np.ndarray:
        """The ``[query, key]`` map of one layer and head; ``None`` averages over all layers (or heads).

        Negative indices count from the end (``layer=-1`` is the last layer).
        """
        w = self.weights
        w = w.mean(axis=0) if layer is None else w[_index(layer, self.num_layers, "layer")]
        w = w.mean(axis=0) if head is None else w[_index(head, self.num_heads, "head")]
        return w

    def average(self) -> np.ndarray:
        """Mean over layers and heads: ``[query, key]``."""
        return self.select(None, None)

    def describe(self, layer: int | None = None, head: int | None = None) -> str:
        """What ``select(layer, head)`` shows, in words (used in plot titles)."""
        if self.num_layers == 1 and self.num_heads == 1:
            return "single attention map"
        parts = []
        parts.append(f"mean of {self.num_layers} layers" if layer is None
                     else f"layer {_index(layer, self.num_layers, 'layer')}")
        parts.append(f"mean of {self.num_heads} heads" if head is None
                     else f"head {_index(head, self.num_heads, 'head')}")
        return ", ".join(parts)

    def to_dict(self, decimals: int | None = 5) -> dict[str, Any]:
        """A JSON-able dict (weights as nested lists, rounded to ``decimals``; ``None`` keeps full precision)."""
        w = self.weights if decimals is None else np.round(self.weights, decimals)
        return {
            "format": _DICT_FORMAT,
            "kind": self.kind,
            "model_name": self.model_name,
            "text": self.text,
            "prompt_length": self.prompt_length,
            "query_tokens": list(self.query_tokens),
            "key_tokens": list(self.key_tokens),
            "shape": list(self.weights.shape),
            "weights": w.tolist(),
            "meta": _jsonable(self.meta),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttentionMaps:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, dict) or "weights" not in data:
            raise InputError("not an AttentionMaps dict: expected a mapping with 'weights'")
        weights = np.asarray(data["weights"], dtype=np.float32)
        if "shape" in data and list(weights.shape) != list(data["shape"]):
            raise InputError(f"weights have shape {list(weights.shape)}, the dict says {data['shape']}")
        return cls(
            query_tokens=list(data["query_tokens"]),
            key_tokens=list(data["key_tokens"]),
            weights=weights,
            kind=data["kind"],
            model_name=data.get("model_name", "model"),
            prompt_length=data.get("prompt_length"),
            text=data.get("text"),
            meta=dict(data.get("meta") or {}),
        )


def _index(i: int, n: int, what: str) -> int:
    if not isinstance(i, (int, np.integer)) or not -n <= i < n:
        raise IndexError(f"{what} {i!r} out of range: the maps have {n} {what}(s)")
    return int(i) % n


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


# --------------------------------------------------------------------------------------------------------------
# Readable tokens
# --------------------------------------------------------------------------------------------------------------


def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's byte-level alphabet (each byte is shown as a printable character, e.g. space -> "Ġ")."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


_BYTE_DECODER = _byte_decoder()
_VISIBLE = {"\n": "↵", "\r": "\\r", "\t": "⇥"}


def token_strings(tokenizer, ids: Sequence[int]) -> list[str]:
    """One readable string per token id.

    Each id is decoded on its own (so byte-level "Ġ"/"Ċ" become a space and a newline). A token that holds
    only part of a multi-byte character (Thai, emoji, ...) is decoded incrementally: the character is shown on
    the token that completes it, and the tokens before it show "…". One leading space is dropped; newlines and
    tabs are shown as "↵" and "⇥", a token of spaces as "␣". Special tokens stay visible (``<|im_end|>``).
    """
    ids = [int(i) for i in ids]
    if not ids:
        return []
    pieces = [tokenizer.decode([i], skip_special_tokens=False, clean_up_tokenization_spaces=False) for i in ids]
    if any("\ufffd" in p for p in pieces):
        raw = tokenizer.convert_ids_to_tokens(ids)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for k, (token, piece) in enumerate(zip(raw, pieces)):
            if isinstance(token, str) and token and all(ch in _BYTE_DECODER for ch in token):
                data = bytes(_BYTE_DECODER[ch] for ch in token)
            else:
                data = piece.encode("utf-8")
            text = decoder.decode(data)
            pieces[k] = text if text else "…"
    return [_visible(p) for p in pieces]


def _visible(piece: str) -> str:
    if piece == "":
        return "∅"
    if piece.strip(" ") == "":
        return "␣" * min(len(piece), 3)
    if piece.startswith(" "):
        piece = piece[1:]
    for ch, shown in _VISIBLE.items():
        piece = piece.replace(ch, shown)
    return piece


# --------------------------------------------------------------------------------------------------------------
# Model handling
# --------------------------------------------------------------------------------------------------------------


def model_name_of(model, fallback: str | None = None) -> str:
    """A short display name: the folder / Hub id's last part, else ``fallback``, else the class name."""
    config = getattr(model, "config", None)
    name = getattr(config, "_name_or_path", "") or getattr(config, "name_or_path", "") or ""
    name = str(name).rstrip("/").split("/")[-1]
    return name or fallback or type(model).__name__


def _rnn_name(model) -> str:
    """An unsaved RNN's display name: its cell, direction and attention."""
    cfg = model.config
    return f"{'Bi' if cfg.bidirectional else ''}{cfg.cell.upper()} ({type(model).__name__}, attention={cfg.attention})"


@contextlib.contextmanager
def eager_attention(model) -> Iterator[None]:
    """Switch a transformers model to the ``"eager"`` attention implementation (the only one that returns
    attention weights) for the duration of the block, and restore the previous implementation after."""
    config = model.config
    previous = getattr(config, "_attn_implementation", None)
    changed = previous not in (None, "eager")
    if changed:
        try:
            model.set_attn_implementation("eager")
        except (AttributeError, ValueError, NotImplementedError):
            config._attn_implementation = "eager"
    try:
        yield
    finally:
        if changed:
            try:
                model.set_attn_implementation(previous)
            except (AttributeError, ValueError, NotImplementedError):
                config._attn_implementation = previous


@contextlib.contextmanager
def _inference(model) -> Iterator[None]:
    """eval mode (no dropout on the weights) and no gradients; the training flag is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _truncate(ids: list[int], limit: int | None, what: str, keep_last: int | None = None) -> list[int]:
    """Cut ``ids`` to ``limit`` tokens (keeping the start, and ``keep_last`` if given) with a warning."""
    if limit is None or len(ids) <= limit:
        return ids
    if limit < 1:
        raise InputError(f"no room for the {what}: the limit leaves {limit} tokens")
    warnings.warn(
        f"the {what} has {len(ids)} tokens, more than the {limit} that fit; keeping the first {limit}",
        UserWarning,
        stacklevel=4,
    )
    if keep_last is not None:
        return ids[: limit - 1] + [keep_last]
    return ids[:limit]


def _tensor(ids: list[int], device) -> torch.Tensor:
    return torch.tensor([ids], dtype=torch.long, device=device)


# --------------------------------------------------------------------------------------------------------------
# RNN family
# --------------------------------------------------------------------------------------------------------------


def rnn_attention_maps(model, tokenizer, text: str, *, generate: bool = False, max_new_tokens: int = 20,
                       target_text: str | None = None, max_length: int | None = None) -> AttentionMaps:
    """The maps of an RNN head of this package: a classifier's attention pooling, or an encoder-decoder's
    alignment (the target generated greedily, or ``target_text`` teacher-forced)."""
    config = model.config
    head = type(model).__name__
    is_classifier = head == "RNNForSequenceClassification"
    is_seq2seq = bool(getattr(config, "is_encoder_decoder", False)) and hasattr(model, "get_encoder")
    if not (is_classifier or is_seq2seq) or getattr(config, "attention", "none") == "none":
        if is_classifier or is_seq2seq:
            reason = f"it was built with RNNConfig(attention={config.attention!r})"
        else:
            reason = "this head never uses attention"
        raise InputError(
            f"{head} has no attention to show: {reason}. Attention maps exist for RNNForSequenceClassification "
            "(attention pooling) and RNNForSeq2SeqLM (decoder-over-encoder alignment) built with "
            "RNNConfig(attention='additive'), 'dot' or 'general'."
        )
    device = _device(model)
    name = model_name_of(model, _rnn_name(model))

    if is_classifier:
        if generate or target_text is not None:
            warnings.warn(f"{head} attends once (pooling); generate/target_text are ignored", UserWarning, stacklevel=3)
        ids = _truncate(list(tokenizer(text)["input_ids"]), max_length, "input")
        with _inference(model):
            out = model(input_ids=_tensor(ids, device), output_attentions=True, return_dict=True)
        weights = out.attentions[0][0].float().cpu().numpy()[None]  # [1, 1, 1, T]
        return AttentionMaps([POOLED_QUERY], token_strings(tokenizer, ids), weights, "pooling", name, text=text,
                             meta={"family": "rnn", "attention": config.attention})

    # Encoder-decoder: source + eos, as the translation task encodes it for the RNN family.
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else config.eos_token_id
    eos = eos[0] if isinstance(eos, (list, tuple)) else eos
    src = ids_with_eos(tokenizer, text, eos=eos)
    src = _truncate(src, max_length, "source", keep_last=None if eos is None else int(eos))
    start = decoder_start_id(model)
    if start is None:
        raise InputError(f"{head} needs RNNConfig.decoder_start_token_id (or bos_token_id) to decode")
    source = _tensor(src, device)
    with _inference(model):
        if target_text is not None:
            target = ids_with_eos(tokenizer, target_text, eos=eos)
            decoder_inputs = [int(start)] + target[:-1]
            mode = "teacher-forced"
        else:
            generated = greedy_generate(model, source, max_new_tokens=max_new_tokens, decoder_start_token_id=int(start),
                                        pad_token_id=pad_id(model, tokenizer), eos_token_id=eos)
            sequence = [int(i) for i in generated[0].tolist()]
            target, decoder_inputs = sequence[1:], sequence[:-1]
            mode = "greedy"
        # One teacher-forced pass over the (given or generated) target gives the alignment of every step.
        out = model(
            input_ids=source,
            attention_mask=torch.ones_like(source),
            decoder_input_ids=_tensor(decoder_inputs, device),
            output_attentions=True,
            use_cache=False,
            return_dict=True,
        )
    weights = out.cross_attentions[-1][0].float().cpu().numpy()[None]  # [1, 1, T_tgt, T_src]
    return AttentionMaps(token_strings(tokenizer, target), token_strings(tokenizer, src), weights,
                         "encoder-decoder alignment", name, text=text,
                         meta={"family": "rnn", "attention": config.attention, "target": mode})


# --------------------------------------------------------------------------------------------------------------
# Decoder-only transformers
# --------------------------------------------------------------------------------------------------------------


def _stack_layers(layer_attentions) -> np.ndarray:
    """tuple over layers of [1, H, Q, K] -> [L, H, Q, K] (float32 numpy)."""
    if not layer_attentions:
        raise InputError(
            "the model returned no attention weights; it may not support output_attentions with eager attention"
        )
    return torch.stack([a[0].float() for a in layer_attentions]).cpu().numpy()


# The maps of every layer and head are held at once: layers x heads x T^2 float32 weights. This caps them.
MAP_MEMORY_BYTES = 2**30


def _num_layers(config) -> int:
    return int(getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", 1))


def _num_heads(config) -> int:
    return int(getattr(config, "num_attention_heads", None) or getattr(config, "n_head", 1))


def _map_bytes(config, tokens: int) -> int:
    return 4 * _num_layers(config) * _num_heads(config) * tokens * tokens


def map_token_limit(config, memory_bytes: int = MAP_MEMORY_BYTES) -> int:
    """The most tokens (prompt and generated) whose attention maps of every layer and head fit ``memory_bytes``.

    SmolLM2-135M (30 layers x 9 heads): 997 tokens in 1 GiB; its 8,192-token context would need 67.5 GiB.
    """
    return max(1, int((memory_bytes / (4 * _num_layers(config) * _num_heads(config))) ** 0.5))


def self_attention_maps(model, tokenizer, text: str, *, generate: bool = False, max_new_tokens: int = 20,
                        target_text: str | None = None, max_length: int | None = None) -> AttentionMaps:
    """Every layer's and head's self-attention of a decoder-only transformer over the prompt (and what it
    generates with ``generate``, or ``target_text`` teacher-forced)."""
    config = model.config
    if getattr(config, "is_encoder_decoder", False):
        raise InputError(
            f"{type(model).__name__} is an encoder-decoder transformer; attention_maps supports decoder-only "
            "transformers and this package's RNN models"
        )
    device = _device(model)
    limit = map_token_limit(config)
    if max_length is not None and max_length > limit:
        raise InputError(f"max_length={max_length} is too long for attention maps of this model: "
                         f"{_num_layers(config)} layers x {_num_heads(config)} heads x {max_length}^2 weights would "
                         f"take {_map_bytes(config, max_length) / 2**30:.1f} GiB; use at most {limit} tokens")
    context = min(max_length or getattr(config, "max_position_embeddings", None) or limit, limit)
    prompt = list(tokenizer(text)["input_ids"])
    target: list[int] = []
    if target_text is not None:
        target = list(tokenizer(target_text, add_special_tokens=False)["input_ids"])
    extra = len(target) + (max_new_tokens if generate and target_text is None else 0)
    if context is not None:
        if len(prompt) + extra > context and extra >= context:
            raise InputError(f"the context of {context} tokens leaves no room for the prompt and {extra} new tokens")
        prompt = _truncate(prompt, context - extra, "prompt")
    name = model_name_of(model)
    meta: dict[str, Any] = {"family": "llm"}

    with eager_attention(model), _inference(model):
        if target_text is not None or not generate:
            if generate:
                warnings.warn("target_text is given: it is teacher-forced and nothing is generated",
                              UserWarning, stacklevel=3)
            ids = prompt + target
            inputs = _tensor(ids, device)
            out = model(input_ids=inputs, attention_mask=torch.ones_like(inputs), output_attentions=True,
                        use_cache=False, return_dict=True)
            weights = _stack_layers(out.attentions)
            meta["target"] = "teacher-forced" if target else "prompt only"
        else:
            ids, weights = _generate_with_attention(model, tokenizer, prompt, max_new_tokens, device)
            meta["target"] = "greedy"
    tokens = token_strings(tokenizer, ids)
    return AttentionMaps(tokens, list(tokens), weights, "self-attention", name, prompt_length=len(prompt),
                         text=text, meta=meta)


@dataclass
class PromptHead:
    """A prompt head many prompts share (a chat template and an instruction), read once with attention: its
    ids, the model's key/value cache of them and their self-attention weights [layers, heads, P, P].

    In a causal model the head's tokens attend only to the head, so these rows of every prompt's maps are the
    same; ``forward_with_self_attention`` reads only what follows the head, from the cache, and puts the maps
    together (the answer and the maps of a zero-shot question in a fraction of the full pass's time).
    """

    ids: list[int]
    cache: Any
    weights: np.ndarray
    cache_argument: str  # the forward's argument for a cache: ``cache`` (transformers >= 5.24) or past_key_values


def read_prompt_head(model, ids: list[int]) -> PromptHead | None:
    """``ids`` read with attention and a key/value cache, or ``None`` for a model whose cache cannot be cropped
    back to the head (recurrent or linear-attention layers, a static or quantized cache)."""
    # every key kept: a sliding window's layer drops the oldest, and its rows would not span the whole prompt
    with eager_attention(model):
        read = read_cache(model, ids, device=_device(model), layer_types=("DynamicLayer",), output_attentions=True)
    if read is None or not read.output.attentions:
        return None
    weights = torch.stack([a[0].float() for a in read.output.attentions]).cpu().numpy()
    return PromptHead(list(ids), read.cache, weights, read.cache_argument)


def _after_head(model, head: PromptHead, ids: list[int], **model_kwargs):
    """The forward pass over what follows ``head`` in ``ids``, from a copy of its cache, and the whole prompt's
    weights [layers, heads, T, T]: the head's rows, then the rest's (zero where a head token would look ahead).

    The copy (a few MB for a chat template's head) keeps the head as it was read, whatever this pass does: a
    pass that fails half-way, or another thread's, cannot leave it longer in some layers than in others."""
    n = len(head.ids)
    device = _device(model)
    rest = _tensor(ids[n:], device)
    positions = torch.arange(n, len(ids), device=device)[None]
    with eager_attention(model), torch.no_grad():
        out = model(input_ids=rest, attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=device),
                    position_ids=positions, output_attentions=True, use_cache=True,
                    **{head.cache_argument: copy.deepcopy(head.cache)}, **model_kwargs)
    rows = torch.stack([a[0].float() for a in out.attentions]).cpu().numpy()  # [L, H, T - n, T]
    weights = np.zeros((*rows.shape[:2], len(ids), len(ids)), dtype=np.float32)
    weights[:, :, :n, :n] = head.weights
    weights[:, :, n:, :] = rows
    return out, weights


def forward_with_self_attention(model, tokenizer, ids: list[int], text: str, model_name: str,
                                prompt_length: int | None = None, input_start: int = 0,
                                head: PromptHead | None = None, **model_kwargs):
    """One forward pass of a transformers model over exactly ``ids`` with attention weights: the output (for the
    answer) and an :class:`AttentionMaps` of every layer and head (``None`` when the model returns none).
    ``input_start``: where the input begins in a prompt (the app crops the maps there). ``head``: a
    :class:`PromptHead` that ``ids`` start with (and go beyond): only the rest is read."""
    if head is not None and len(ids) > len(head.ids) and ids[: len(head.ids)] == head.ids:
        out, weights = _after_head(model, head, ids, **model_kwargs)
    else:
        inputs = _tensor(ids, _device(model))
        with eager_attention(model), torch.no_grad():
            out = model(input_ids=inputs, attention_mask=torch.ones_like(inputs), output_attentions=True,
                        use_cache=False, **model_kwargs)
        if not out.attentions:
            return out, None
        weights = torch.stack([a[0].float() for a in out.attentions]).cpu().numpy()
    tokens = token_strings(tokenizer, ids)
    maps = AttentionMaps(tokens, list(tokens), weights, "self-attention", model_name,
                         prompt_length=prompt_length if prompt_length is not None and prompt_length < len(ids)
                         else None, text=text, meta={"family": "llm", "input_start": int(input_start)})
    return out, maps


def _generate_with_attention(model, tokenizer, prompt: list[int], max_new_tokens: int, device):
    """Greedy generation; returns (all ids, [L, H, N, N]) with N = prompt + generated.

    ``generate(output_attentions=True)`` gives the prompt's square map at the first step and then one row per
    step: the row of the token fed at that step (the one generated just before). The last generated token is
    never fed, so its row is computed with one more step on the returned cache (or a full pass if the model
    returns no cache).
    """
    out = greedy_generate(model, _tensor(prompt, device), max_new_tokens=max_new_tokens,
                          pad_token_id=pad_id(model, tokenizer), output_attentions=True)
    ids = [int(i) for i in out.sequences[0].tolist()]
    p, n = len(prompt), len(ids)
    steps = out.attentions
    first = _stack_layers(steps[0])  # [L, H, P, P]
    num_layers, num_heads = first.shape[:2]
    weights = np.zeros((num_layers, num_heads, n, n), dtype=np.float32)
    weights[:, :, :p, :p] = first
    for k, step in enumerate(steps[1:], start=1):
        row = _stack_layers(step)[:, :, -1]  # [L, H, p + k]
        weights[:, :, p + k - 1, : row.shape[-1]] = row
    if n > p:
        weights[:, :, n - 1, :] = _last_row(model, out, ids, device)
    return ids, weights


def _last_row(model, out, ids: list[int], device) -> np.ndarray:
    cache = output_cache(out)
    full = _tensor(ids, device)
    if cache is not None:
        try:
            step = model(input_ids=full[:, -1:], attention_mask=torch.ones_like(full), output_attentions=True,
                         use_cache=True, return_dict=True, **{cache_argument(model): cache})
            row = _stack_layers(step.attentions)[:, :, -1]
            if row.shape[-1] == len(ids):
                return row
        except (TypeError, ValueError, RuntimeError, IndexError):
            pass
    step = model(input_ids=full, attention_mask=torch.ones_like(full), output_attentions=True, use_cache=False,
                 return_dict=True)
    return _stack_layers(step.attentions)[:, :, -1]


__all__ = ["KINDS", "POOLED_QUERY", "AttentionMaps", "attention_maps", "eager_attention",  # noqa: F822 (__getattr__)
           "forward_with_self_attention",
           "model_name_of", "rnn_attention_maps", "self_attention_maps", "token_strings"]
