"""``transformers.pipeline`` on saved RNN run folders, in a fresh interpreter that only ran ``import hf_rnn``.

Three tiny runs are trained by ``hf-rnn train`` (sentiment, pos, textgen: the sequence-classification,
token-classification and causal-LM heads); a subprocess calls ``pipeline(task, model=run_dir)`` on each, and
this process checks its answers against the same model run directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from hf_rnn.cli import main as cli

TINY = ["model.embedding_size=16", "model.init_embeddings=null", "model.hidden_size=16", "model.num_layers=1",
        "model.dropout=0.0", "model.classifier_hidden_sizes=[]", "model.classifier_dropout=0.0",
        "task.max_train_examples=48", "task.max_validation_examples=6", "task.max_test_examples=7",
        "training.max_steps=3", "training.batch_size=8", "training.eval_batch_size=8", "training.max_length=32",
        "training.eval_steps=3", "training.progress_bar=false", "training.warmup_steps=0",
        "training.max_new_tokens=8", "training.log_with=null"]

SENTENCES = ["Good, cheap food!", "The service was slow and the soup was cold."]
TAGGED = "Pass me the orange marker"
PROMPT = "To be, or not to be"
NEW_TOKENS = 8

# what the fresh interpreter runs: only `import hf_rnn`, then transformers' own pipeline
SCRIPT = f"""
import json, sys
import hf_rnn
import transformers
lazy = {{"models_imported": "hf_rnn.models" in sys.modules, "watching": hf_rnn._auto.is_watching()}}
from transformers import pipeline
runs = json.loads(sys.argv[1])
out = {{"lazy": lazy}}
classify = pipeline("text-classification", model=runs["sentiment"])
tag = pipeline("token-classification", model=runs["pos"])
out["text-classification"] = classify({SENTENCES!r})
out["token-classification"] = tag({TAGGED!r})
# "" has no tokens with the RNN tokenizers: alone, and padded beside a sentence in one batch
out["empty"] = {{"alone": classify(""), "batched": classify(["", {SENTENCES[0]!r}], batch_size=2),
                 "tagged": tag("")}}
out["text-generation"] = pipeline("text-generation", model=runs["textgen"])(
    {PROMPT!r}, max_new_tokens={NEW_TOKENS}, do_sample=False)
print(json.dumps(out, default=float))
"""


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    """``(run folders by task, the subprocess's pipeline outputs by pipeline task)``."""
    root = tmp_path_factory.mktemp("pipeline")
    runs = {}
    for task in ("sentiment", "pos", "textgen"):
        runs[task] = str(root / task)
        assert cli(["train", "--task", task, "--model", "rnn", "--output-dir", runs[task], *TINY]) == 0
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # a local folder needs nothing from the Hub
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(runs)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return runs, json.loads(proc.stdout.strip().splitlines()[-1])


def load(run_dir, auto_class):
    import transformers

    model = getattr(transformers, auto_class).from_pretrained(run_dir).eval()
    return model, transformers.AutoTokenizer.from_pretrained(run_dir)


def test_import_hf_rnn_alone_registers_without_importing_the_models(answers):
    _, out = answers
    # until transformers' Auto classes are imported, hf_rnn.models (torch, modeling) is not imported either
    assert out["lazy"] == {"models_imported": False, "watching": True}


def test_text_classification_pipeline(answers):
    runs, out = answers
    model, tok = load(runs["sentiment"], "AutoModelForSequenceClassification")
    assert type(model).__name__ == "RNNForSequenceClassification"
    results = out["text-classification"]
    assert len(results) == len(SENTENCES)
    for sentence, result in zip(SENTENCES, results):
        assert set(result) == {"label", "score"}
        with torch.no_grad():
            probs = model(**tok(sentence, return_tensors="pt")).logits.softmax(-1)[0]
        best = int(probs.argmax())
        assert result["label"] == model.config.id2label[best] and result["label"] in ("negative", "positive")
        assert result["score"] == pytest.approx(float(probs[best]), abs=1e-5)


def test_pipelines_answer_an_empty_text_from_the_start_state(answers):
    """``""`` tokenizes to no ids (no special tokens): the classifier answers from the RNN's start state, the
    same alone and padded in a batch; the tagger finds nothing to tag."""
    runs, out = answers
    model, tok = load(runs["sentiment"], "AutoModelForSequenceClassification")
    assert tok("")["input_ids"] == []
    with torch.no_grad():
        probs = model(input_ids=torch.zeros(1, 0, dtype=torch.long)).logits.softmax(-1)[0]
    best = int(probs.argmax())
    empty = out["empty"]
    for result in (empty["alone"][0], empty["batched"][0]):
        assert result["label"] == model.config.id2label[best]
        assert result["score"] == pytest.approx(float(probs[best]), abs=1e-5)
    assert empty["batched"][1] == pytest.approx(out["text-classification"][0], abs=1e-5)  # its neighbour as alone
    assert empty["tagged"] == []


def test_token_classification_pipeline(answers):
    runs, out = answers
    model, tok = load(runs["pos"], "AutoModelForTokenClassification")
    assert type(model).__name__ == "RNNForTokenClassification"
    enc = tok(TAGGED, return_tensors="pt", return_special_tokens_mask=True, return_offsets_mapping=True)
    offsets, special = enc.pop("offset_mapping")[0], enc.pop("special_tokens_mask")[0]
    with torch.no_grad():
        probs = model(**enc).logits.softmax(-1)[0]
    expected = [(i, model.config.id2label[int(probs[i].argmax())], float(probs[i].max()))
                for i in range(len(probs)) if not special[i]]
    expected = [e for e in expected if e[1] != "O"]  # the pipeline leaves out the "outside" label
    entities = out["token-classification"]
    assert entities and [(e["index"], e["entity"]) for e in entities] == [(i, tag) for i, tag, _ in expected]
    assert [e["score"] for e in entities] == pytest.approx([s for _, _, s in expected], abs=1e-5)
    assert {e["entity"] for e in entities} <= set(model.config.id2label.values())
    for e in entities:  # each entity points at its own characters of the sentence
        assert (e["start"], e["end"]) == tuple(offsets[e["index"]].tolist())
        assert TAGGED[e["start"]:e["end"]].strip()


def test_text_generation_pipeline_extends_the_prompt(answers):
    runs, out = answers
    model, tok = load(runs["textgen"], "AutoModelForCausalLM")
    assert type(model).__name__ == "RNNForCausalLM"
    (result,) = out["text-generation"]
    text = result["generated_text"]
    assert text.startswith(PROMPT) and len(text) > len(PROMPT)
    enc = tok(PROMPT, return_tensors="pt")
    with torch.no_grad():
        ids = model.generate(**enc, max_new_tokens=NEW_TOKENS, do_sample=False)
    # greedy decoding: the pipeline's continuation is the model's own (one character a token here)
    assert text == PROMPT + tok.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.parametrize("imports", [
    "import hf_rnn; import transformers.modeling_utils",  # the Auto configs load while modeling_utils is half done
    "import transformers.models.auto.configuration_auto; import hf_rnn",  # Auto classes first: registers at once
])
def test_the_family_is_registered_whatever_the_import_order(imports):
    check = ("import hf_rnn, sys\n"
             "from transformers.models.auto.configuration_auto import CONFIG_MAPPING\n"
             "from transformers.models.auto.modeling_auto import MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING as M\n"
             "print(CONFIG_MAPPING['hf_rnn'].__name__, M[CONFIG_MAPPING['hf_rnn']].__name__, hf_rnn._auto.is_watching())")
    proc = subprocess.run([sys.executable, "-c", f"{imports}\n{check}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["RNNConfig", "RNNForTokenClassification", "False"]
