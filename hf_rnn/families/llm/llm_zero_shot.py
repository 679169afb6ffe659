"""Zero-shot LLM baselines, scored with each task's own metric.

An instruct model can answer a task from a prompt alone; its score shows how much
fine-tuning adds. ``ZeroShotClassifier`` turns a causal LM into something
``task.evaluate`` treats as a sequence classifier: for each text it asks, in the chat
template, for one of the label names and reads the next-token log-probabilities of
the label words. Translation, forecasting and text generation need no wrapper: the tasks already
encode them as prompted causal LM for the LLM family.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from hf_rnn.errors import ConfigError
from hf_rnn.generation import KV_CACHE_LAYERS, read_cache
from hf_rnn.tasks.kinds import GENERIC_PROMPT
from hf_rnn.tasks.sentiment import SENTIMENT_PROMPT
from hf_rnn.tokenization import chat_prompt_ids


def default_prompt(task: Any) -> tuple[str, str]:
    """``(instruction, answer_prefix)`` for a classification task: the task's own
    (``task.zero_shot_prompt()``; the tuned one for the built-in sentiment data), else a generic one."""
    own = getattr(task, "zero_shot_prompt", None)
    return own() if callable(own) else GENERIC_PROMPT


# the cache layers of plain attention (transformers' DynamicCache): they repeat over a batch by their keys and values
KV_LAYERS = KV_CACHE_LAYERS


class ZeroShotClassifier(nn.Module):
    """A causal LM answering a classification question, shaped like a sequence classifier.

    ``forward`` takes the task's encoded batch (the same ids an RNN or a fine-tuned LLM
    classifier sees), decodes each text, asks the question in the chat template, opens
    the assistant's answer with ``answer_prefix`` and returns, per label, the
    log-probability that the answer continues with the label word's first token, so
    ``argmax`` is the model's answer.

    Args:
        model: a causal LM (ideally instruction-tuned).
        tokenizer: its tokenizer.
        label_names: the task's labels, in id order.
        instruction: the user message; ``{text}`` is the input, ``{labels}`` the label
            words joined as "a, b or c".
        answer_prefix: text the assistant's turn starts with (e.g. ``"Sentiment:"``); the
            label words follow it after a space. ``""`` reads the first answer token.
        label_words: the words the model should answer with (default: the label names).
        max_text_tokens: inputs are cut to this many tokens before prompting.
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer,
        label_names: Sequence[str],
        instruction: str = GENERIC_PROMPT[0],
        answer_prefix: str = GENERIC_PROMPT[1],
        label_words: Sequence[str] | None = None,
        max_text_tokens: int = 256,
    ) -> None:
        super().__init__()
        self.lm = model
        # hf_rnn.families.family_of() reads config.model_type: the LM's ("llama"), so this is in the LLM family
        self.config = model.config
        self.tokenizer = copy.copy(tokenizer)
        self.label_names = list(label_names)
        self.label_words = list(label_words or label_names)
        if len(self.label_words) != len(self.label_names):
            raise ConfigError("label_words must give one word per label")
        self.instruction = instruction
        self.answer_prefix = answer_prefix
        self.max_text_tokens = max_text_tokens
        self.label_token_ids = self._label_token_ids()
        # the shared prompt prefix (ids, key/value cache, forward options) or None, worked out for _prefix_key
        self._prefix: tuple[list[int], Any, dict[str, Any]] | None = None
        self._prefix_key: tuple | None = None  # (device, dtype, weights' version)
        self.tokenizer.padding_side = "right"  # the full-prompt path reads each row's last real token
        self.eval()  # an evaluator: the LM it wraps is not put in training mode by whoever evaluates it

    def _label_token_ids(self) -> list[int]:
        """The first token of each label word as it follows the answer prefix.

        After a prefix like "Sentiment:" the word comes with a leading space, a different
        token in byte-level BPE (" positive" vs "positive").
        """
        space = " " if self.answer_prefix and not self.answer_prefix.endswith((" ", "\n")) else ""
        ids = [self.tokenizer(space + w, add_special_tokens=False)["input_ids"][0] for w in self.label_words]
        if len(set(ids)) != len(ids) and space:
            # labels like 0 and 1 (a user's file): " 0" and " 1" can both start with the space's own token. The
            # space then goes into the answer's prefix and the words' own first tokens tell them apart.
            bare = [self.tokenizer(w, add_special_tokens=False)["input_ids"][:1] for w in self.label_words]
            if all(bare) and len({b[0] for b in bare}) == len(bare):
                self.answer_prefix += space
                return [b[0] for b in bare]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"label words {self.label_words} share a first token; choose words that differ "
                              "in their first token")
        return ids

    def prompt(self, text: str) -> str:
        """The user message for one input text."""
        names = self.label_words
        joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return self.instruction.format(text=text, labels=joined)

    def prompt_ids(self, text: str) -> list[int]:
        """Token ids of the chat prompt for ``text``, ending with the opened answer."""
        return chat_prompt_ids(self.tokenizer, self.prompt(text), self.answer_prefix)

    def _shared_prefix(self, device: torch.device) -> tuple[list[int], Any, dict[str, Any]] | None:
        """The token ids every prompt starts with, the LM's key/value cache of them and the forward options that
        read after it; or ``None`` when the model cannot (no plain key/value cache, no ``position_ids``) or the
        prompts share too little to gain. Worked out once per device and dtype, either way."""
        # the weights' version counters too: a classifier that trains (PromptClassifier) reads its head again
        key = (device, next(self.lm.parameters()).dtype, sum(p._version for p in self.lm.parameters()))
        if self._prefix_key != key:
            self._prefix_key, self._prefix = key, self._read_shared_prefix(device)
        return self._prefix

    def shared_head_ids(self) -> list[int]:
        """The token ids every prompt starts with (``[]`` when they share under 8: too little to gain)."""
        a, b = self.prompt_ids("a"), self.prompt_ids("Zebra 9")
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        # the last shared token may merge with a text's first characters in other prompts: leave it out
        ids = a[: max(n - 1, 0)]
        return ids if len(ids) >= 8 else []

    def _read_shared_prefix(self, device: torch.device, grad: bool = False
                            ) -> tuple[list[int], Any, dict[str, Any]] | None:
        ids = self.shared_head_ids()
        if not ids:
            return None
        # only plain key/value layers repeat over a batch and ignore left padding
        read = read_cache(self.lm, ids, device=device, layer_types=KV_LAYERS, grad=grad)
        if read is None:
            return None
        # only the answer position's logits where the model can skip the others
        options: dict[str, Any] = {"cache_argument": read.cache_argument}
        if read.takes_logits_to_keep:
            options["logits_to_keep"] = 1
        return ids, read.cache, options

    def _cached_next_logits(self, prompts: list[list[int]], head_ids: list[int], cache, options: dict[str, Any],
                            device, copy_cache: bool = True) -> torch.Tensor:
        """Next-token logits [B, V] after each prompt, reading only what follows the shared head.

        The head's key/value cache (read once) is repeated over the batch; each row's own text and answer opening
        follow it, padded on the left, with the positions they would have unpadded, so every row's answer
        position is the last column. ``copy_cache=False`` extends ``cache`` itself (one read for this batch only).
        """
        start = len(head_ids)
        rest = [p[start:] for p in prompts]
        width = max(len(r) for r in rest)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rest], device=device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rest], device=device)
        positions = (start + mask.cumsum(1) - 1).clamp(min=start)
        batch_cache = copy.deepcopy(cache) if copy_cache else cache
        batch_cache.batch_repeat_interleave(len(rest))
        kwargs = {k: v for k, v in options.items() if k != "cache_argument"}
        kwargs[options["cache_argument"]] = batch_cache
        mask = torch.cat([torch.ones(len(rest), start, dtype=mask.dtype, device=device), mask], 1)
        out = self.lm(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **kwargs)
        return out.logits[:, -1].float()

    def _next_logits(self, prompts: list[list[int]], device) -> torch.Tensor:
        """Next-token logits [B, V] after each prompt (token ids)."""
        head = None if torch.is_grad_enabled() else self._shared_prefix(device)
        if head is not None and not all(p[: len(head[0])] == head[0] and len(p) > len(head[0]) for p in prompts):
            head = None
        if head is None:
            return self._full_next_logits(prompts, device)
        return self._cached_next_logits(prompts, *head, device)

    def _full_next_logits(self, prompts: list[list[int]], device) -> torch.Tensor:
        """Next-token logits [B, V] after each prompt, every prompt read in full, right-padded: right for any
        model, recurrent layers too."""
        batch = self.tokenizer.pad({"input_ids": prompts}, return_tensors="pt").to(device)
        out = self.lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        last = batch["attention_mask"].sum(1) - 1  # each row's last real position
        return out.logits[torch.arange(len(prompts), device=device), last].float()  # [B, V]

    def texts_from_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> list[str]:
        """Decode a padded batch back to text. ``input_ids``: [B, T]."""
        texts = []
        for b in range(input_ids.shape[0]):
            ids = input_ids[b] if attention_mask is None else input_ids[b][attention_mask[b].bool()]
            ids = ids[: self.max_text_tokens]
            texts.append(self.tokenizer.decode(ids, skip_special_tokens=True).strip())
        return texts

    def label_scores(self, next_logits: torch.Tensor) -> torch.Tensor:
        """Next-token logits after each prompt [B, V] → each label word's first-token log-probability
        [B, num_labels] (their ``exp`` sum is the probability mass on the label words)."""
        return next_logits.float().log_softmax(-1)[:, self.label_token_ids]

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **_: Any,
    ) -> SequenceClassifierOutput:
        """Score each label for each text.

        Args:
            input_ids: [B, T] the task's encoded texts (right-padded).
            attention_mask: [B, T].
            labels: [B] optional gold labels, for a cross-entropy ``loss``.

        Returns:
            ``SequenceClassifierOutput`` with ``logits`` [B, num_labels]: per label, the
            next-token log-probability of its word's first token.
        """
        prompts = [self.prompt_ids(t) for t in self.texts_from_ids(input_ids, attention_mask)]
        logits = self.label_scores(self._next_logits(prompts, input_ids.device))  # [B, num_labels]
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits, labels.to(logits.device))
        return SequenceClassifierOutput(loss=loss, logits=logits)


def zero_shot(
    task: Any,
    model: nn.Module | None = None,
    tokenizer=None,
    split: str = "test",
    max_examples: int | None = None,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
    with_examples: bool = False,
    **options: Any,
) -> dict[str, float] | tuple[dict[str, float], list[dict[str, Any]] | None]:
    """Score an instruct LLM on ``task`` without training, with the task's own metric.

    Args:
        task: a ``Task`` or a task name ("sentiment", "translation", "timeseries", "textgen").
        model: a causal LM; default: the built-in SmolLM2-135M-Instruct.
        tokenizer: its tokenizer (loaded with the default model).
        split: the split to score.
        max_examples: score a seeded subset of this size.
        batch_size: texts per forward pass.
        progress: called as ``progress(done, total)`` after each batch.
        with_examples: return ``(metrics, records)``: the per-example records too (``Task.example_records``).
        options: for classification, ``ZeroShotClassifier`` settings (``instruction``,
            ``answer_prefix``, ``label_words``; default: ``default_prompt(task)``);
            otherwise generation settings passed to ``task.evaluate``.

    Returns:
        The task's metrics (e.g. ``{"accuracy": ..., "macro_f1": ..., "num_examples": ...}``).

    Raises:
        ConfigError: a token-classification task (a causal LM cannot tag zero-shot here).
    """
    from hf_rnn.arguments import instance_argument
    from hf_rnn.families.llm.llm import load_llm
    from hf_rnn.tasks import Task, load_task

    instance_argument(task, (str, Task), "zero_shot: task", "a Task or a task name")
    instance_argument(model, nn.Module, "zero_shot: model", "a causal LM (torch.nn.Module)", optional=True)
    if isinstance(task, str):
        task = load_task(task)
    if not task.zero_shot:
        raise ConfigError(
            f"zero-shot scoring covers classification, translation, forecasting and text "
            f"generation; {task.name} is token classification: fine-tune instead"
        )
    if model is None:
        model, tokenizer = load_llm(None, "causal-lm", mode="freeze")
    elif tokenizer is None:
        raise ConfigError("pass the tokenizer together with the model")
    if task.kind == "sequence-classification":
        instruction, answer_prefix = default_prompt(task)
        options = {"instruction": instruction, "answer_prefix": answer_prefix, **options}
        model = ZeroShotClassifier(model, tokenizer, task.label_names, **options)
        options = {}
    return task.evaluate(
        model, tokenizer, split=split, batch_size=batch_size, max_examples=max_examples, progress=progress,
        with_examples=with_examples, **options
    )


__all__ = ["GENERIC_PROMPT", "SENTIMENT_PROMPT", "ZeroShotClassifier", "default_prompt", "zero_shot"]
