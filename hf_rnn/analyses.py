"""The lecture's analyses, as functions with plots.

- **Vanishing gradients** ("it can be difficult for the gradient (error) at the end to propagate back"):
  :func:`gradient_norms_over_time` measures ``‖∂loss/∂x_t‖`` for every input position ``t`` when the loss is
  taken at the last position only, for a simple RNN, a GRU, an LSTM and a transformer of the same width;
  :func:`plot_gradient_norms` draws the curves on a log scale.
- **The bidirectional effect** ("Pass me the orange" / "Pass me the orange marker"): :func:`train_quick_taggers`
  trains a unidirectional and a bidirectional LSTM tagger on part of the POS data in about a minute each,
  through the package's one training loop (``hf_rnn.training.loop.train``);
  :func:`bidirectional_effect` tags the lecture's sentences word by word with each tagger, and
  :func:`plot_bidirectional_effect` / :func:`bidirectional_table_markdown` / :func:`bidirectional_table_html`
  render the table.
"""

from __future__ import annotations

import copy
import html
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from hf_rnn.report.plots import _finish, _new_figure

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------------------
# Vanishing gradients
# --------------------------------------------------------------------------------------------------------------

KERAS_LSTM_NAME = "LSTM, forget bias 1 (Keras init)"


@dataclass
class GradientNorms:
    """Result of :func:`gradient_norms_over_time`.

    Attributes:
        positions: ``[T]`` input positions ``0 .. T-1`` (the loss is at ``T-1``).
        norms: ``{model_name: [T]}``, ``‖∂loss/∂x_t‖`` averaged over the batch, then over the runs (geometric
            mean, since the values span many orders of magnitude).
        runs: ``{model_name: [R, T]}``, the batch averages of each run (seed).
        description: how the numbers were obtained (for plot titles and reports).
    """

    positions: np.ndarray
    norms: dict[str, np.ndarray]
    runs: dict[str, np.ndarray]
    description: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return int(len(self.positions))

    def summary(self) -> list[dict[str, Any]]:
        """Per model: the norm at the last, the middle and the first position, the first/last ratio, and the
        factor by which the norm shrinks per step back (1.0 = no decay), fitted on the log-norms of positions
        T/4 .. T-2 (the last position is left out: it also has the direct, non-recurrent path to the loss)."""
        rows = []
        for name, norm in self.norms.items():
            T = len(norm)
            lo, hi = T // 4, max(T // 4 + 2, T - 1)
            xs = np.arange(lo, hi)
            slope = float(np.polyfit(xs, np.log(np.maximum(norm[lo:hi], 1e-300)), 1)[0]) if len(xs) >= 2 else 0.0
            ratio = float(norm[0] / norm[-1]) if norm[-1] > 0 else float("nan")
            rows.append({"model": name, "last": float(norm[-1]), "middle": float(norm[T // 2]),
                         "first": float(norm[0]), "first_over_last": ratio,
                         "factor_per_step_back": float(np.exp(-slope))})
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {"positions": self.positions.tolist(), "norms": {k: v.tolist() for k, v in self.norms.items()},
                "runs": {k: v.tolist() for k, v in self.runs.items()}, "description": self.description,
                "settings": dict(self.settings)}


def default_gradient_models(hidden_size: int = 64, vocab_size: int = 512, num_layers: int = 1, seed: int = 0,
                            keras_lstm: bool = True, num_heads: int = 4) -> dict[str, nn.Module]:
    """Untrained models of the same width for :func:`gradient_norms_over_time`.

    ``"SimpleRNN"``, ``"GRU"``, ``"LSTM"``: :class:`~hf_rnn.models.RNNForCausalLM` with ``cell="rnn"/"gru"/"lstm"``
    (embedding size = hidden size), initialised as the package initialises them (PyTorch's defaults). With
    ``keras_lstm``, also an LSTM whose forget-gate bias starts at 1, as Keras' ``LSTM(unit_forget_bias=True)``
    (the lecture's layer) does. ``"Transformer"``: a ``LlamaForCausalLM`` built from a config with the same
    width, ``num_layers`` layers and ``num_heads`` heads.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    from hf_rnn.models import RNNConfig, RNNForCausalLM

    models: dict[str, nn.Module] = {}
    for name, cell in (("SimpleRNN", "rnn"), ("GRU", "gru"), ("LSTM", "lstm")):
        torch.manual_seed(seed)
        config = RNNConfig(vocab_size=vocab_size, embedding_size=hidden_size, hidden_size=hidden_size,
                           num_layers=num_layers, cell=cell)
        models[name] = RNNForCausalLM(config)
    if keras_lstm:
        torch.manual_seed(seed)
        lstm = RNNForCausalLM(RNNConfig(vocab_size=vocab_size, embedding_size=hidden_size, hidden_size=hidden_size,
                                        num_layers=num_layers, cell="lstm"))
        set_lstm_forget_bias(lstm, 1.0)
        models[KERAS_LSTM_NAME] = lstm
    torch.manual_seed(seed)
    llama = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden_size, intermediate_size=4 * hidden_size,
                        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_heads,
                        max_position_embeddings=4096, tie_word_embeddings=False)
    models["Transformer"] = LlamaForCausalLM(llama)
    return models


@torch.no_grad()
def set_lstm_forget_bias(model: nn.Module, value: float = 1.0) -> int:
    """Set the forget-gate bias of every ``nn.LSTM`` in ``model`` to ``value`` (PyTorch's two biases sum to it).

    PyTorch orders the LSTM gates (input, forget, cell, output). Returns how many LSTM layers were changed.
    """
    changed = 0
    for module in model.modules():
        if isinstance(module, nn.LSTM):
            H = module.hidden_size
            for name, parameter in module.named_parameters(recurse=False):
                if name.startswith("bias_ih"):
                    parameter[H:2 * H] = value
                elif name.startswith("bias_hh"):
                    parameter[H:2 * H] = 0.0
            changed += 1
    return changed


def _vocab_size(model: nn.Module) -> int:
    return int(model.get_input_embeddings().num_embeddings)


def _position_gradient_norms(model: nn.Module, input_ids: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """``‖∂loss/∂x_t‖`` per position, averaged over the batch; loss at the last position only."""
    embeddings = model.get_input_embeddings()
    x = embeddings(input_ids.to(embeddings.weight.device)).detach().requires_grad_(True)
    out = model(inputs_embeds=x, return_dict=True, use_cache=False) if _takes_use_cache(model) else \
        model(inputs_embeds=x, return_dict=True)
    logits = getattr(out, "logits", None)
    if logits is not None:
        last = logits[:, -1] if logits.dim() == 3 else logits
        loss = F.cross_entropy(last, targets.to(last.device) % last.shape[-1])
    else:  # a bare encoder: the squared norm of its last state
        loss = 0.5 * out.last_hidden_state[:, -1].pow(2).sum()
    (grad,) = torch.autograd.grad(loss, x)
    return grad.norm(dim=-1).mean(dim=0).double().cpu().numpy()


def _takes_use_cache(model: nn.Module) -> bool:
    import inspect

    return "use_cache" in inspect.signature(model.forward).parameters


def gradient_norms_over_time(
    models: Mapping[str, nn.Module] | None = None,
    input_ids: torch.Tensor | None = None,
    *,
    length: int = 80,
    batch_size: int = 8,
    seeds: Sequence[int] = (0, 1, 2),
    hidden_size: int = 64,
    vocab_size: int = 512,
    num_layers: int = 1,
    keras_lstm: bool = True,
    dtype: torch.dtype | None = torch.float64,
) -> GradientNorms:
    """How far back the training signal reaches: ``‖∂loss/∂x_t‖`` against ``t``, the loss at the last position.

    ``x_t`` is the input embedding at position ``t``; the loss is the cross-entropy of the last position's
    prediction against a random target (or, for a model without logits, half the squared norm of its last
    state). A curve that falls steeply to the left means the loss hardly depends on early inputs: the
    vanishing gradient.

    Args:
        models: ``{name: model}``; each takes ``inputs_embeds`` and has ``get_input_embeddings()`` (the RNN
            family's heads and encoder, transformers causal LMs). Default: :func:`default_gradient_models`,
            rebuilt for every seed (so the curves average over initialisations as well as inputs). A
            bidirectional model's last position sees every input: its curve says nothing about the distance.
        input_ids: ``[B, T]`` token ids to use (then every seed uses them). Default: random ids of shape
            ``[batch_size, length]``, drawn per seed.
        seeds: one run per seed; the runs are averaged geometrically.
        hidden_size, vocab_size, num_layers, keras_lstm: settings of the default models.
        dtype: compute in this dtype on copies of the models (float64 keeps the tiny gradients of early
            positions from underflowing to 0); ``None`` uses the models as they are.
    """
    if input_ids is not None:
        input_ids = torch.as_tensor(input_ids, dtype=torch.long)
        if input_ids.dim() == 1:
            input_ids = input_ids[None]
        length = int(input_ids.shape[1])
    if length < 2:
        raise ValueError(f"length must be at least 2; got {length}")
    if not seeds:
        raise ValueError("seeds must name at least one run")

    runs: dict[str, list[np.ndarray]] = {}
    for seed in seeds:
        current = default_gradient_models(hidden_size, vocab_size, num_layers, seed, keras_lstm) \
            if models is None else models
        generator = torch.Generator().manual_seed(int(seed))
        smallest_vocab = min(_vocab_size(m) for m in current.values())
        ids = input_ids if input_ids is not None else torch.randint(
            0, smallest_vocab, (batch_size, length), generator=generator)
        targets = torch.randint(0, smallest_vocab, (ids.shape[0],), generator=generator)
        for name, model in current.items():
            if models is not None and dtype is not None:
                model = copy.deepcopy(model)
            if dtype is not None:
                model = model.to(dtype)
            was_training = model.training
            model.eval()  # no dropout: the curve should show the function, not the noise
            try:
                runs.setdefault(name, []).append(_position_gradient_norms(model, ids, targets))
            finally:
                model.train(was_training)

    stacked = {name: np.stack(values) for name, values in runs.items()}
    floor = np.finfo(np.float64).tiny
    norms = {name: np.exp(np.log(np.maximum(values, floor)).mean(axis=0)) for name, values in stacked.items()}
    default_note = (f"untrained, hidden size {hidden_size}, {num_layers} layer(s)" if models is None
                    else "given models")
    description = (f"{default_note}; {len(seeds)} run(s) × batch of "
                   f"{batch_size if input_ids is None else input_ids.shape[0]}, sequence of {length} tokens")
    settings = {"length": length, "batch_size": batch_size, "seeds": list(seeds), "hidden_size": hidden_size,
                "vocab_size": vocab_size, "num_layers": num_layers, "default_models": models is None,
                "dtype": str(dtype)}
    return GradientNorms(np.arange(length), norms, stacked, description, settings)


def plot_gradient_norms(result: GradientNorms, path: str | Path | None = None, title: str | None = None) -> Figure:
    """The curves of :func:`gradient_norms_over_time` on a log y axis, with the spread over runs shaded."""
    fig = _new_figure(9.0, 5.0)
    ax = fig.add_subplot()
    floor = np.finfo(np.float64).tiny
    styles = {"SimpleRNN": "-", "GRU": "-", "LSTM": "-", KERAS_LSTM_NAME: "--", "Transformer": "-"}
    for name, norm in result.norms.items():
        line, = ax.plot(result.positions, np.maximum(norm, floor), styles.get(name, "-"), linewidth=1.8, label=name)
        runs = np.maximum(result.runs[name], floor)
        if runs.shape[0] > 1:
            ax.fill_between(result.positions, runs.min(axis=0), runs.max(axis=0), color=line.get_color(), alpha=0.15,
                            linewidth=0)
    ax.set_yscale("log")
    ax.set_xlabel(f"input position t (the loss is at the last position, t = {result.length - 1})")
    ax.set_ylabel(r"$\Vert\,\partial\,\mathrm{loss} \,/\, \partial x_t \,\Vert$")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or f"How far back the gradient reaches\n{result.description}", fontsize=10)
    return _finish(fig, path)


# --------------------------------------------------------------------------------------------------------------
# The bidirectional effect
# --------------------------------------------------------------------------------------------------------------

LECTURE_SENTENCES = (
    "Pass me the orange",
    "Pass me the orange marker",
    "Rest before your next class",
    "Rest and relaxation are healthy",
)
UNIDIRECTIONAL_NAME = "LSTM (unidirectional)"
BIDIRECTIONAL_NAME = "BiLSTM (bidirectional)"


def _label_names(model, label_names: Sequence[str] | None) -> list[str]:
    if label_names is not None:
        return list(label_names)
    config = getattr(model, "config", None)
    id2label = getattr(config, "id2label", None) or {}
    names = [str(id2label.get(i, id2label.get(str(i), i))) for i in range(len(id2label))]
    if names and not all(n.startswith("LABEL_") for n in names):
        return names
    num_labels = getattr(config, "num_labels", len(names))
    from hf_rnn.tasks.pos import UNIVERSAL_TAGS

    return list(UNIVERSAL_TAGS) if num_labels == len(UNIVERSAL_TAGS) else [str(i) for i in range(num_labels)]


def _device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@torch.no_grad()
def tag_words(model, tokenizer, words: Sequence[str], label_names: Sequence[str] | None = None
              ) -> list[tuple[str, float]]:
    """Tag pre-split ``words`` with a token-classification model: ``[(tag, probability), ...]`` per word, read at
    each word's first sub-token (the one that carries the label in training)."""
    from hf_rnn.tokenization import encode_words

    names = _label_names(model, label_names)
    enc = encode_words(tokenizer, list(words))
    device = _device(model)
    ids = torch.tensor([enc["input_ids"]], device=device)
    was_training = model.training
    model.eval()
    try:
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0].float()
    finally:
        model.train(was_training)
    probabilities = logits.softmax(-1)
    first: dict[int, int] = {}
    for position, word in enumerate(enc["word_ids"]):
        if word >= 0 and word not in first:
            first[word] = position
    out = []
    for w in range(len(words)):
        if w not in first:  # cut by truncation or an empty word
            out.append(("?", float("nan")))
            continue
        p = probabilities[first[w]]
        k = int(p.argmax())
        out.append((names[k] if k < len(names) else str(k), float(p[k])))
    return out


def bidirectional_effect(
    taggers: Mapping[str, tuple[Any, Any]],
    sentences: Sequence[str] = LECTURE_SENTENCES,
    label_names: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Word-by-word tags of each tagger on the lecture's sentences.

    Args:
        taggers: ``{name: (model, tokenizer)}``, token-classification models (e.g. from
            :func:`train_quick_taggers`).
        sentences: whitespace-split into words. The default adds the lecture's "Rest and relaxation are healthy"
            (Rest = NOUN) to the three sentences with "orange" and "Rest".
        label_names: tag names by label id (default: the model's ``id2label``, else the 12 universal tags).

    Returns:
        One dict per word: ``{"sentence", "sentence_index", "word_index", "word", "tags": {name: tag},
        "probabilities": {name: p}}`` (``pandas.json_normalize`` flattens it).
    """
    if not taggers:
        raise ValueError("taggers is empty: pass {name: (model, tokenizer)}")
    table: list[dict[str, Any]] = []
    for s, sentence in enumerate(sentences):
        words = sentence.split()
        if not words:
            raise ValueError(f"sentence {s} is empty")
        tagged = {name: tag_words(model, tok, words, label_names) for name, (model, tok) in taggers.items()}
        for w, word in enumerate(words):
            table.append({
                "sentence": sentence,
                "sentence_index": s,
                "word_index": w,
                "word": word,
                "tags": {name: tags[w][0] for name, tags in tagged.items()},
                "probabilities": {name: round(tags[w][1], 4) for name, tags in tagged.items()},
            })
    return table


def _group(table: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    groups: dict[int, tuple[str, list]] = {}
    for row in table:
        groups.setdefault(row["sentence_index"], (row["sentence"], []))[1].append(row)
    return [groups[k] for k in sorted(groups)]


def _model_names(table: Sequence[Mapping[str, Any]]) -> list[str]:
    names: list[str] = []
    for row in table:
        for name in row["tags"]:
            if name not in names:
                names.append(name)
    return names


def bidirectional_table_markdown(table: Sequence[Mapping[str, Any]]) -> str:
    """The table as Markdown: one small table per sentence, words as columns and taggers as rows, as on the
    lecture's slide. Tags on which the taggers disagree are in bold."""
    names = _model_names(table)
    parts = []
    for sentence, rows in _group(table):
        header = "| tagger | " + " | ".join(r["word"] for r in rows) + " |"
        rule = "|---|" + "---|" * len(rows)
        lines = [f"**{sentence}**", "", header, rule]
        for name in names:
            cells = []
            for r in rows:
                tag = r["tags"].get(name, "")
                disagree = len(set(r["tags"].values())) > 1
                cells.append(f"**{tag}**" if disagree else tag)
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def bidirectional_table_html(table: Sequence[Mapping[str, Any]]) -> str:
    """The table as an HTML fragment (one ``<table>`` per sentence; disagreements highlighted)."""
    names = _model_names(table)
    parts = []
    for sentence, rows in _group(table):
        head = "".join(f"<th>{html.escape(r['word'])}</th>" for r in rows)
        body = []
        for name in names:
            cells = []
            for r in rows:
                tag = html.escape(str(r["tags"].get(name, "")))
                p = r["probabilities"].get(name)
                title = f' title="p = {p:.2f}"' if isinstance(p, float) and not math.isnan(p) else ""
                style = ' style="background:#ffe9a8;font-weight:bold"' if len(set(r["tags"].values())) > 1 else ""
                cells.append(f"<td{style}{title}>{tag}</td>")
            body.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}</tr>")
        parts.append(f"<table class=\"bidirectional-effect\"><caption>{html.escape(sentence)}</caption>"
                     f"<thead><tr><th>tagger</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    return "\n".join(parts)


_TAG_COLOURS = {
    "NOUN": "#a6cee3", "VERB": "#b2df8a", "ADJ": "#fdbf6f", "ADV": "#cab2d6", "PRON": "#fb9a99", "DET": "#d9d9d9",
    "ADP": "#ffffb3", "CONJ": "#bebada", "PRT": "#80b1d3", "NUM": "#fccde5", ".": "#f0f0f0", "X": "#ffffff",
}


def plot_bidirectional_effect(table: Sequence[Mapping[str, Any]], path: str | Path | None = None,
                              title: str | None = None) -> Figure:
    """One panel per sentence: words across, taggers down, each cell the predicted tag (coloured by tag, with
    its probability). Words on which the taggers disagree are framed in red."""
    names = _model_names(table)
    groups = _group(table)
    widest = max(len(rows) for _, rows in groups)
    name_width = max(len(n) for n in names) * 0.075 + 0.4
    fig = _new_figure(name_width + 1.25 * widest + 0.6, sum(0.5 * (len(names) + 1) + 0.45 for _ in groups) + 0.6)
    axes = fig.subplots(len(groups), 1, squeeze=False)[:, 0]
    for ax, (sentence, rows) in zip(axes, groups):
        n_rows = len(names)
        ax.set_xlim(-0.5, widest - 0.5)
        ax.set_ylim(n_rows - 0.5, -1.2)
        ax.set_title(f"“{sentence}”", fontsize=10, loc="left")
        ax.set_yticks(range(n_rows), names, fontsize=9)
        ax.set_xticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.tick_params(left=False)
        for j, r in enumerate(rows):
            ax.text(j, -0.85, r["word"], ha="center", va="center", fontsize=10, fontweight="bold")
            disagree = len(set(r["tags"].values())) > 1
            for i, name in enumerate(names):
                tag = str(r["tags"].get(name, ""))
                p = r["probabilities"].get(name, float("nan"))
                ax.add_patch(_rectangle(j, i, _TAG_COLOURS.get(tag, "#eeeeee")))
                label = tag if not isinstance(p, float) or math.isnan(p) else f"{tag}\n{p:.2f}"
                ax.text(j, i, label, ha="center", va="center", fontsize=8.5)
            if disagree:
                ax.add_patch(_rectangle(j, (n_rows - 1) / 2, "none", height=n_rows, edge="#d62728", width=0.96,
                                        line=2.0))
    fig.suptitle(title or "Unidirectional vs bidirectional tagging (tag, probability)", fontsize=11)
    return _finish(fig, path)


def _rectangle(x, y, colour, height=1.0, width=0.94, edge="white", line=1.0):
    from matplotlib.patches import Rectangle

    return Rectangle((x - width / 2, y - height / 2 + 0.03), width, height - 0.06, facecolor=colour,
                     edgecolor=edge, linewidth=line)


# --------------------------------------------------------------------------------------------------------------
# Quick taggers
# --------------------------------------------------------------------------------------------------------------


def train_quick_taggers(
    steps: int = 600,
    *,
    tokenizer=None,
    task=None,
    cell: str = "lstm",
    hidden_size: int = 128,
    embedding_size: int = 128,
    batch_size: int = 32,
    learning_rate: float = 3e-3,
    max_train_sentences: int = 20_000,
    max_validation_sentences: int = 1_000,
    max_length: int = 64,
    max_seconds: float | None = 90.0,
    num_threads: int | None = 1,
    seed: int = 0,
    names: tuple[str, str] = (UNIDIRECTIONAL_NAME, BIDIRECTIONAL_NAME),
    output_dir: str | Path | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Train a unidirectional and a bidirectional RNN tagger on part of the POS data (the lecture's word
    labeling), through the package's one training loop (``hf_rnn.training.loop.train``), for the bidirectional demo.

    Both taggers see the same batches in the same order (the loop's sampler is seeded by ``seed``) for ``steps``
    optimizer steps (or until ``max_seconds`` of training per model), with Adam at a constant
    ``learning_rate`` (AdamW without weight decay) and gradients clipped to norm 1; each is scored on
    the validation sentences once, at the end. Defaults take about a minute per model on a CPU. Words are labelled
    at their first sub-token of the built-in (SmolLM2) tokenizer, as the POS task does for every model.

    ``max_train_sentences`` / ``max_validation_sentences``: a seeded sample of the train / validation split
    (``Task.subset``); the loop's final test score uses as many test sentences as validation ones.

    ``num_threads`` sets PyTorch's CPU threads during training (restored after). One thread is the default: for
    models this small a second thread gains little, and when other processes share the cores, OpenMP threads
    waiting for each other can make every step several times slower. ``None`` keeps the current setting.

    ``output_dir``: where the two run folders go (``unidirectional/``, ``bidirectional/``; a run already there
    is replaced); ``None``: a temporary folder, removed afterwards (the models stay in memory).

    Returns:
        ``{name: (model, tokenizer)}`` (ready for :func:`bidirectional_effect`). Each model carries a
        ``quick_training`` dict: steps, seconds of training, the last logged training loss, the validation
        (and test) token accuracy, the numbers of sentences and the run folder (``None`` when temporary).
    """
    import tempfile

    from hf_rnn.tasks import load_task
    from hf_rnn.tokenization import load_tokenizer

    tokenizer = tokenizer if tokenizer is not None else load_tokenizer()
    task = task if task is not None else load_task("pos")
    task = task.subset({"train": max_train_sentences, "validation": max_validation_sentences,
                        "test": max_validation_sentences}, seed=seed)
    config = {"epochs": None, "max_steps": steps, "max_seconds": max_seconds, "batch_size": batch_size,
              "learning_rate": learning_rate, "weight_decay": 0.0, "lr_scheduler": "constant", "max_grad_norm": 1.0,
              "max_length": max_length, "eval_steps": steps, "seed": seed, "log_with": None, "progress_bar": False}

    previous_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        with tempfile.TemporaryDirectory(prefix="hf_rnn_taggers_") as scratch:
            root = Path(output_dir).expanduser() if output_dir is not None else Path(scratch)
            return {name: (_train_tagger(name, bidirectional, task, tokenizer, config, cell, hidden_size,
                                         embedding_size, root, keep=output_dir is not None), tokenizer)
                    for name, bidirectional in zip(names, (False, True))}
    finally:
        torch.set_num_threads(previous_threads)


def _train_tagger(name: str, bidirectional: bool, task, tokenizer, config: dict[str, Any], cell: str,
                  hidden_size: int, embedding_size: int, root: Path, keep: bool):
    """One tagger of :func:`train_quick_taggers`, trained by ``hf_rnn.training.loop.train`` in ``root``."""
    from hf_rnn.models import RNNConfig, RNNForTokenClassification
    from hf_rnn.training import loop as training

    label_names = list(task.label_names)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    torch.manual_seed(config["seed"])  # both taggers start from the same generator state
    model = RNNForTokenClassification(RNNConfig(
        vocab_size=len(tokenizer), embedding_size=embedding_size, hidden_size=hidden_size, cell=cell,
        bidirectional=bidirectional, num_labels=len(label_names), pad_token_id=pad_id,
        id2label=dict(enumerate(label_names)), label2id={n: i for i, n in enumerate(label_names)},
    ))
    out = root / ("bidirectional" if bidirectional else "unidirectional")
    metrics = training.train(model, task, config, tokenizer, out, overwrite=True)
    if metrics.training.stopped_because == "max_seconds":
        logger.warning("%s: stopped after %d of %d steps (max_seconds=%s)", name, metrics.training.steps,
                       config["max_steps"], config["max_seconds"])
    model.eval()
    model.quick_training = {
        "steps": metrics.training.steps, "seconds": round(metrics.training.train_seconds, 1),
        "train_loss": round(metrics.training.final_loss, 4) if metrics.training.final_loss is not None else None,
        "validation_accuracy": round(metrics.best.value, 4), "test_accuracy": round(metrics.test["accuracy"], 4),
        "train_sentences": len(task.dataset["train"]), "validation_sentences": len(task.dataset["validation"]),
        "run_dir": str(out) if keep else None}
    logger.info("%s: %s", name, model.quick_training)
    return model


__all__ = [
    "BIDIRECTIONAL_NAME",
    "KERAS_LSTM_NAME",
    "LECTURE_SENTENCES",
    "UNIDIRECTIONAL_NAME",
    "GradientNorms",
    "bidirectional_effect",
    "bidirectional_table_html",
    "bidirectional_table_markdown",
    "default_gradient_models",
    "gradient_norms_over_time",
    "plot_bidirectional_effect",
    "plot_gradient_norms",
    "set_lstm_forget_bias",
    "tag_words",
    "train_quick_taggers",
]
