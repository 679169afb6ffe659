"""Tokenizers shared by both families, the one place where word labels meet sub-tokens, and the one chat-prompt
encoder (``chat_prompt_ids``: the LLM's prompts for translation, forecasting and zero-shot classification).

By default an RNN uses the built-in LLM's tokenizer, so that a comparison differs only in
the model. A word-level tokenizer trained on a task's training split is the classic RNN
alternative (``train_word_tokenizer``). Either is a ``PreTrainedTokenizerFast`` and is
saved with the model.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence

from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from hf_rnn.arguments import checked_texts, path_argument
from hf_rnn.assets.cache import ensure_builtin_llm

IGNORE_INDEX = -100  # the label value PyTorch's cross-entropy skips

# words and punctuation marks, as the tagging data has them: how a tagger reads a raw text (the app, references)
_WORD_RE = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")


def split_words(text: str) -> list[str]:
    """Words and punctuation marks, as the tagging data has them ("Pass me the orange." → 5 words)."""
    return _WORD_RE.findall(text)


def load_tokenizer(name_or_path: str | None = None) -> PreTrainedTokenizerBase:
    """Load a tokenizer (default: the built-in SmolLM2's) with a pad token set.

    Decoder-only tokenizers often lack a pad token; we reuse eos, the usual choice, since
    padded positions are masked out of both attention and loss.
    """
    path_argument(name_or_path, "load_tokenizer: name_or_path", optional=True)
    if name_or_path is None:
        name_or_path = str(ensure_builtin_llm())
    tok = AutoTokenizer.from_pretrained(name_or_path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def encode_words(
    tokenizer: PreTrainedTokenizerBase,
    words: Sequence[str],
    word_labels: Sequence[int] | None = None,
    max_length: int | None = None,
    repeat: bool = False,
) -> dict[str, list[int]]:
    """Tokenize pre-split words and align word labels to sub-tokens.

    The words are joined by single spaces and tokenized once, so every tokenizer (BPE,
    SentencePiece, word-level) sees text as it would at inference. Each sub-token is
    mapped back to its word through character offsets. The first sub-token of a word
    carries the word's label; the others, and special tokens, get ``IGNORE_INDEX`` (-100).

    Returns ``input_ids`` [T], ``attention_mask`` [T], ``word_ids`` [T] (-1 for special
    tokens) and, when ``word_labels`` is given, ``labels`` [T].

    ``repeat=True`` feeds the sentence twice and labels only the second copy ([T] becomes [2T]: the
    first copy's ``word_ids`` are -1 and its labels ``IGNORE_INDEX``). A causal model then sees the
    whole sentence, right context included, when it tags each word of the second copy: the
    decoder-only counterpart of a bidirectional RNN. ``max_length`` bounds the doubled length.
    """
    if repeat:
        once = encode_words(tokenizer, words, word_labels, None if max_length is None else max_length // 2)
        out = {"input_ids": once["input_ids"] * 2, "attention_mask": once["attention_mask"] * 2,
               "word_ids": [-1] * len(once["word_ids"]) + once["word_ids"]}
        if word_labels is not None:
            out["labels"] = [IGNORE_INDEX] * len(once["labels"]) + once["labels"]
        return out
    text = " ".join(words)
    starts: list[int] = []
    pos = 0
    for w in words:
        starts.append(pos)
        pos += len(w) + 1
    enc = tokenizer(
        text,
        return_offsets_mapping=True,
        truncation=max_length is not None,
        max_length=max_length,
    )
    word_ids: list[int] = []
    for start, end in enc["offset_mapping"]:
        if end <= start:  # special or empty token
            word_ids.append(-1)
        else:
            # the last character of the token decides: byte-level BPE may include the
            # leading space in the offsets, which belongs to the previous gap
            word_ids.append(max(bisect_right(starts, end - 1) - 1, 0))
    out = {"input_ids": list(enc["input_ids"]), "attention_mask": list(enc["attention_mask"]), "word_ids": word_ids}
    if word_labels is not None:
        labels, previous = [], -1
        for wid in word_ids:
            labels.append(word_labels[wid] if wid >= 0 and wid != previous else IGNORE_INDEX)
            if wid >= 0:
                previous = wid
        out["labels"] = labels
    return out


def ids_with_eos(tokenizer: PreTrainedTokenizerBase, text: str, max_length: int | None = None,
                 eos: int | None = None) -> list[int]:
    """A sequence that ends where the model should stop [T <= ``max_length``]: the text's tokens (no special
    tokens; at most ``max_length - 1``), then ``eos`` (default: the tokenizer's; none when there is none).

    An encoder-decoder's source and target, and a prompted LLM's answer, are encoded so."""
    eos = tokenizer.eos_token_id if eos is None else eos
    room = None if max_length is None else max_length - (eos is not None)
    ids = list(tokenizer(text, add_special_tokens=False, truncation=room is not None, max_length=room)["input_ids"])
    return ids if eos is None else ids + [int(eos)]


def chat_prompt_ids(tokenizer: PreTrainedTokenizerBase, message: str, answer_prefix: str = "") -> list[int]:
    """Token ids [T] of ``message`` asked as the user's turn in the tokenizer's chat template, the assistant's turn
    opened and begun with ``answer_prefix``; without a template, ``message``, a line break and ``answer_prefix``.

    The rendered template and the prefix are tokenized as one text (what ``apply_chat_template(tokenize=True)``
    does with the template alone), so the prefix merges with the turn's opening as it would in the model's
    training data. Control tokens typed in ``message`` are read as control tokens, as the template reads them.
    """
    if getattr(tokenizer, "chat_template", None):
        head = tokenizer.apply_chat_template([{"role": "user", "content": message}], add_generation_prompt=True,
                                             tokenize=False)
    else:
        head = message + "\n"
    return list(tokenizer(head + answer_prefix, add_special_tokens=False)["input_ids"])


def train_word_tokenizer(
    texts: Iterable[str], vocab_size: int = 20_000, min_frequency: int = 2, lowercase: bool = True
) -> PreTrainedTokenizerFast:
    """Train a word-level tokenizer (the classic RNN vocabulary) with ``tokenizers``.

    Words and punctuation are split apart; unseen words map to ``[UNK]``. Offsets are
    kept, so ``encode_words`` aligns labels for it exactly as for the LLM's tokenizer.
    """
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from tokenizers.processors import TemplateProcessing
    from tokenizers.trainers import WordLevelTrainer

    texts = checked_texts(texts, "train_word_tokenizer: texts")  # a str would train on its letters
    specials = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
    tok = Tokenizer(WordLevel(unk_token="[UNK]"))
    norm = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tok.normalizer = normalizers.Sequence(norm)
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    trainer = WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials)
    tok.train_from_iterator(texts, trainer=trainer)
    # no special tokens around single texts: an RNN classifier needs none, and the
    # seq2seq / LM encoders append eos themselves
    tok.post_processor = TemplateProcessing(single="$A", pair="$A $B")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]", eos_token="[EOS]"
    )


def train_char_tokenizer(texts: Iterable[str], vocab_size: int = 512, min_frequency: int = 1) -> PreTrainedTokenizerFast:
    """Train a character-level tokenizer (the classic char-RNN vocabulary) with ``tokenizers``.

    Every character, spaces and line breaks included, is one token; characters rarer than ``min_frequency`` (or
    beyond the ``vocab_size`` most frequent) map to ``[UNK]``. Decoding joins the characters back exactly.
    """
    from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import WordLevel
    from tokenizers.processors import TemplateProcessing
    from tokenizers.trainers import WordLevelTrainer

    specials = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
    tok = Tokenizer(WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # one piece per character
    tok.decoder = decoders.Fuse()  # join pieces without spaces
    trainer = WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = TemplateProcessing(single="$A", pair="$A $B")
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]",
                                   eos_token="[EOS]", clean_up_tokenization_spaces=False)


def tokenizer_from_section(task, tokenizer_cfg):
    """The tokenizer a recipe's ``tokenizer:`` section names: the built-in LLM's (default), another one, or a
    word- or character-level vocabulary trained on the task's training split."""
    if tokenizer_cfg.word_level:
        return train_word_tokenizer(_training_texts(task), vocab_size=tokenizer_cfg.vocab_size,
                                    lowercase=tokenizer_cfg.lowercase)
    if tokenizer_cfg.char_level:
        return train_char_tokenizer(_training_texts(task), vocab_size=tokenizer_cfg.vocab_size)
    return load_tokenizer(tokenizer_cfg.name_or_path)


def _training_texts(task):
    """Every text of the training split (words of a tagged sentence joined by spaces)."""
    ds = task.dataset["train"]
    for column in ds.column_names:
        feature = ds.features[column]
        dtype = getattr(feature, "dtype", None) or getattr(getattr(feature, "feature", None), "dtype", None)
        if dtype != "string":
            continue
        for value in ds[column]:
            yield " ".join(value) if isinstance(value, list) else value
