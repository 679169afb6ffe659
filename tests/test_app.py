"""The comparison app: the service (models, inputs, cache, training) and every API endpoint via gradio_client.

Tiny untrained run folders (hf_rnn.app.testing) and a 2-layer Llama standing in for SmolLM2 keep each call
to milliseconds; the page is served in this process on a free port of 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from hf_rnn.app.predict import zero_shot_classifier  # noqa: E402
from hf_rnn.app.render import heatmap_html, note_html  # noqa: E402
from hf_rnn.app.service import (  # noqa: E402
    LECTURE_EXAMPLES,
    MAX_CHARS,
    ZERO_SHOT,
    AppError,
    AppService,
    ModelCache,
    clean_text,
    focus,
    split_words,
)
from hf_rnn.app.testing import free_port, make_tiny_llm, make_tiny_runs, serve, wait_for_http  # noqa: E402
from hf_rnn.tasks import TASKS as TASK_CLASSES  # noqa: E402

# gradio's queue (not this package) trips pandas 3 deprecations on every event
pytestmark = [pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting'"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

TASKS = ("sentiment", "pos", "textgen", "translation", "timeseries")
BAD_INPUTS = {
    "empty": "",
    "spaces": "   \n\t ",
    "long": "Neat plot. Great acting. " * 800,  # 20,000 characters
    "emoji": "Good, cheap food! 😀🍎👍🏽 🇪🇸",
    "rtl": "أحب التفاح الأحمر · אני אוהב תפוחים אדומים",
    "control": "Good\x00 cheap\x07 food\x1b[31m!\x7f\u0085",
}


# --------------------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tokenizer):
    root = tmp_path_factory.mktemp("app")
    runs = make_tiny_runs(root / "runs", tokenizer)
    llm = make_tiny_llm(root / "llm", tokenizer)
    template = root / "template"  # what the fake trainer "trains": a copy of a tiny run
    for name in ("sentiment-bilstm-attn", "pos-bilstm", "textgen-lstm", "translation-bigru", "timeseries-lstm"):
        shutil.copytree(runs / name, template / name.split("-")[0])
    return SimpleNamespace(root=root, runs=runs, llm=llm, template=template)


@pytest.fixture(scope="module")
def service(tiny):
    s = AppService(tiny.runs, llm=tiny.llm, max_new_tokens=8, train_seconds=2)
    yield s
    s.close()


@pytest.fixture(scope="module")
def url(service):
    with serve(service) as address:
        yield address


@pytest.fixture(scope="module")
def client(url, tmp_path_factory):
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False,
                  download_files=str(tmp_path_factory.mktemp("downloads")))


def value(x):
    """An output the page updates with a label too arrives as {'label': ..., 'value': ...}."""
    return x["value"] if isinstance(x, dict) and "value" in x else x


FAKE_TRAINER = textwrap.dedent("""
    import json, shutil, sys, time
    from pathlib import Path
    template, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True)
    with open(out / "metrics.jsonl", "w") as log:
        for s in (0.5, 1.0, 2.0):
            log.write(json.dumps({"event": "train", "step": int(s * 10), "train_seconds": s}) + "\\n")
            log.flush()
            time.sleep(0.3)
    for f in template.iterdir():
        shutil.copy(f, out / f.name)
""")


def fake_training(service, tiny, monkeypatch, fail: bool = False):
    real = service.quick_train_argv

    def argv(task):
        _, out = real(task)
        if fail:
            return [sys.executable, "-c", "import sys; print('CUDA out of memory'); sys.exit(3)"], out
        return [sys.executable, "-c", FAKE_TRAINER, str(tiny.template / task), str(out)], out

    monkeypatch.setattr(service, "quick_train_argv", argv)


# --------------------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------------------


def test_clean_text_removes_control_characters_and_keeps_scripts():
    text, notices = clean_text(BAD_INPUTS["control"])
    assert text == "Good cheap food [31m!"
    assert notices and "control character" in notices[0]
    for name in ("emoji", "rtl"):
        assert clean_text(BAD_INPUTS[name]) == (BAD_INPUTS[name], [])
    assert clean_text(None) == ("", [])
    assert clean_text("  \r\n a\r\nb ") == ("a\nb", [])
    assert clean_text("\ud800x") == ("x", ["Removed 1 control character from the input."])
    long, notices = clean_text("y" * (MAX_CHARS + 10))
    assert len(long) == MAX_CHARS and "first 50,000" in notices[0]


def test_split_words_separates_punctuation():
    assert split_words("Good, cheap food!") == ["Good", ",", "cheap", "food", "!"]
    assert split_words("Pass me the orange marker") == ["Pass", "me", "the", "orange", "marker"]
    assert split_words("don't stop") == ["don't", "stop"]
    assert split_words("😀 !") == ["😀", "!"]


# --------------------------------------------------------------------------------------------------------------
# Models: choices, defaults, resolving, cache
# --------------------------------------------------------------------------------------------------------------


def test_choices_list_runs_then_zero_shot(service):
    values = {task: [c.value for c in service.choices(task)] for task in TASKS}
    assert values["sentiment"][:2] == ["run:sentiment-bilstm-attn", "run:sentiment-bilstm"]  # attention first
    assert values["sentiment"][-1] == ZERO_SHOT and "run:sentiment-llm" in values["sentiment"]
    assert ZERO_SHOT not in values["pos"] and set(values["pos"]) == {"run:pos-bilstm", "run:pos-llm"}
    for task in ("textgen", "translation", "timeseries"):
        assert values[task][-1] == ZERO_SHOT and values[task][0].startswith("run:")
    assert service.defaults("sentiment") == ("run:sentiment-bilstm-attn", ZERO_SHOT)
    assert service.defaults("pos") == ("run:pos-bilstm", "run:pos-llm")
    label = {c.value: c.label for c in service.choices("sentiment")}
    assert "additive attention" in label["run:sentiment-bilstm-attn"] and "accuracy 0.5" in label[
        "run:sentiment-bilstm-attn"]


def test_first_start_without_runs_offers_zero_shot_and_the_training_command(tmp_path, tiny):
    fresh = AppService(tmp_path / "no-runs-yet", llm=tiny.llm)
    assert fresh.defaults("sentiment") == (None, ZERO_SHOT)  # slot A waits for a trained RNN
    hint = fresh.train_hint("sentiment")
    assert "hf-rnn train --task sentiment --model bilstm model.attention=additive" in hint
    assert "training.max_seconds=60" in hint and "--output-dir" in hint
    result = fresh.compare("sentiment", *fresh.defaults("sentiment"), "Good, cheap food!")
    assert result.b.ok and not result.a.ok and "no model picked" in result.a.error
    fresh.close()


@pytest.mark.parametrize("task", TASKS)
def test_quick_training_command_is_a_valid_recipe(task, service):
    from hf_rnn.training.recipes import load_recipe

    argv, out = service.quick_train_argv(task)
    assert argv[1:3] == ["-m", "hf_rnn.training.recipe_training"] and argv[-2:] == ["--output-dir", str(out)]
    overrides = [a for a in argv if "=" in a]
    recipe = load_recipe(task, TASK_CLASSES[task].app_quick_train[0], None, overrides)
    assert recipe.training.max_seconds == service.train_seconds
    assert recipe.model.family == "rnn"
    if task in ("sentiment", "translation"):
        assert recipe.model.attention != "none"  # the app shows its attention map


def test_resolve_refuses_unknown_foreign_and_escaping_values(service):
    with pytest.raises(AppError, match="no model picked"):
        service.resolve("sentiment", "")
    with pytest.raises(AppError, match="unknown model"):
        service.resolve("sentiment", "bilstm")
    with pytest.raises(AppError, match="not a folder under"):
        service.resolve("sentiment", "run:../llm")
    with pytest.raises(AppError, match="trained for pos"):
        service.resolve("sentiment", "run:pos-bilstm")
    with pytest.raises(AppError, match="cannot label words zero-shot"):
        service.resolve("pos", ZERO_SHOT)
    with pytest.raises(AppError, match="unknown task"):
        service.resolve("poetry", ZERO_SHOT)


def test_model_cache_is_lru_and_loads_each_model_once_under_concurrency():
    cache = ModelCache(size=2)
    calls: list[str] = []
    gate = threading.Event()

    def loader(name):
        def load():
            calls.append(name)
            gate.wait(2)
            return SimpleNamespace(name=name)
        return load

    threads = [threading.Thread(target=cache.get, args=(("m", "a"), loader("a"))) for _ in range(6)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert calls == ["a"]
    cache.get(("m", "b"), loader("b"))
    cache.get(("m", "a"), loader("a"))  # a is now the most recent
    cache.get(("m", "c"), loader("c"))  # evicts b
    assert cache.keys() == [("m", "a"), ("m", "c")] and calls == ["a", "b", "c"]
    assert cache.discard(lambda k: k[1] == "a") == 1 and len(cache) == 1


# --------------------------------------------------------------------------------------------------------------
# Comparisons, task by task
# --------------------------------------------------------------------------------------------------------------


def test_sentiment_probabilities_and_both_kinds_of_attention(service):
    r = service.compare("sentiment", "run:sentiment-bilstm-attn", ZERO_SHOT, "Good, cheap food!")
    assert r.error is None and r.a.ok and r.b.ok
    for pred in (r.a, r.b):
        assert set(pred.output) == {"negative", "positive"}
        assert sum(pred.output.values()) == pytest.approx(1.0, abs=1e-5)
    assert r.a.maps.kind == "pooling" and r.a.maps.weights.shape[:3] == (1, 1, 1)
    assert r.a.maps.key_tokens[0] == "Good"
    assert r.b.maps.kind == "self-attention" and r.b.maps.weights.shape[:2] == (2, 4)
    start = r.b.maps.meta["input_start"]
    assert r.b.maps.key_tokens[start] == "Good"  # the input begins right after the prompt's instruction
    shown = focus(r.b.maps)
    assert shown.key_tokens[0] == "Good" and shown.weights.shape[2:] == (len(r.b.maps.key_tokens) - start,) * 2
    assert focus(r.b.maps, whole_prompt=True) is r.b.maps
    assert "ms" in r.status_markdown()


def test_zero_shot_answer_matches_the_library_zero_shot_classifier(service, tiny):
    """The app's single forward pass (with attention) gives the probabilities ZeroShotClassifier scores with."""
    import torch

    r = service.compare("sentiment", ZERO_SHOT, ZERO_SHOT, "Neat plot. Great acting.")
    lm = service._load("sentiment", service.resolve("sentiment", ZERO_SHOT))
    zs = zero_shot_classifier(lm, service.task("sentiment"))
    ids = lm.tokenizer("Neat plot. Great acting.", return_tensors="pt")
    with torch.no_grad():
        logits = zs(input_ids=ids["input_ids"], attention_mask=ids["attention_mask"]).logits[0]
    expected = dict(zip(zs.label_names, logits.softmax(-1).tolist()))
    for label, p in expected.items():
        assert r.a.output[label] == pytest.approx(p, abs=1e-4)


def test_rnn_without_attention_gets_a_note_instead_of_a_map(service):
    r = service.compare("sentiment", "run:sentiment-bilstm", "run:sentiment-llm", "I like red apples")
    assert r.a.ok and r.a.maps is None and "no attention to show" in r.a.attention_note
    assert "model.attention=additive" in r.a.attention_note
    assert r.b.ok and r.b.maps.kind == "self-attention" and r.b.maps.key_tokens[0] == "I"


def test_pos_tags_one_per_word(service):
    r = service.compare("pos", "run:pos-bilstm", "run:pos-llm", "Pass me the orange marker")
    tags = set(service.task("pos").label_names)
    for pred in (r.a, r.b):
        assert pred.ok
        assert [w for w, _ in pred.output] == ["Pass", "me", "the", "orange", "marker"]
        assert all(t in tags for _, t in pred.output)
    assert r.a.maps is None and "hidden states" in r.a.attention_note
    assert r.b.maps is not None
    z = service.compare("pos", "run:pos-bilstm", ZERO_SHOT, "Pass me the orange")
    assert z.a.ok and not z.b.ok and "zero-shot" in z.b.error
    assert service.compare("pos", "run:pos-bilstm", None, "!!!").a.ok
    assert service.compare("pos", "run:pos-bilstm", None, "   ").error


def test_textgen_continues_and_maps_prompt_and_new_tokens(service):
    r = service.compare("textgen", "run:textgen-lstm", ZERO_SHOT, "Roses are red", max_new_tokens=5)
    assert r.a.ok and r.b.ok and isinstance(r.a.output, str) and isinstance(r.b.output, str)
    assert r.a.maps is None and "hidden state" in r.a.attention_note
    maps = r.b.maps
    lm = service._load("textgen", service.resolve("textgen", ZERO_SHOT))
    n = len(lm.tokenizer("Roses are red")["input_ids"])
    assert maps.prompt_length == n and "".join(maps.key_tokens[:n]) == "Rosesarered"
    assert len(maps.key_tokens) <= n + 5


def test_translation_alignment_and_llm_self_attention(service):
    r = service.compare("translation", "run:translation-bigru", ZERO_SHOT, "Do you have a pet?")
    assert r.a.ok and r.b.ok
    assert r.a.maps.kind == "encoder-decoder alignment"
    assert r.a.maps.key_tokens[:5] == ["Do", "you", "have", "a", "pet"]
    assert r.b.maps.kind == "self-attention"
    assert r.b.maps.key_tokens[r.b.maps.meta["input_start"]] == "Do"


def test_timeseries_forecasts_a_test_window(service):
    task, windows = service.windows("run:timeseries-lstm", ZERO_SHOT)
    r = service.compare("timeseries", "run:timeseries-lstm", ZERO_SHOT, window=5)
    assert r.error is None and r.a.ok and r.b.ok
    assert len(r.a.output) == task.horizon and len(r.b.output) == task.horizon
    past, future, t = windows[5]
    assert r.series["t"] == t and r.series["truth"] == list(future) and r.series["history"][-1] == past[-1]
    assert r.a.maps is None and r.b.maps.kind == "self-attention"
    clipped = service.compare("timeseries", "run:timeseries-lstm", None, window=10_000)
    assert clipped.a.ok and "showing" in clipped.notices[0]
    assert "must be a number" in service.compare("timeseries", "run:timeseries-lstm", None, window="soon").error


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_inputs_give_messages_not_exceptions(service, name):
    r = service.compare("sentiment", "run:sentiment-bilstm-attn", ZERO_SHOT, BAD_INPUTS[name])
    if name in ("empty", "spaces"):
        assert r.error and "empty" in r.error and "⚠️" in r.status_markdown()
        return
    assert r.error is None and r.a.ok and r.b.ok, r.status_markdown()
    if name == "long":  # cut to the app's limit (RNN) and to the tiny LLM's 256-token context (LLM)
        assert any("the first 256 were used" in n for n in r.a.notices)
        assert any("context is 256 tokens" in n for n in r.b.notices)
        assert len(r.a.maps.key_tokens) == 256 and len(r.b.maps.key_tokens) <= 256
    if name == "control":
        assert "control character" in r.status_markdown()
    for task in ("pos", "textgen", "translation"):
        a = service.defaults(task)[0]
        assert service.compare(task, a, None, BAD_INPUTS[name]).a.ok


def test_concurrent_comparisons_share_each_loaded_model(service):
    before = service.cache.loads
    service.compare("sentiment", "run:sentiment-bilstm-attn", ZERO_SHOT, "warm")
    results, errors = [], []

    def worker(i):
        try:
            results.append(service.compare("sentiment", "run:sentiment-bilstm-attn", ZERO_SHOT, LECTURE_EXAMPLES[i % 7]))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 8 and all(r.a.ok and r.b.ok for r in results)
    assert service.cache.loads - before <= 2


def test_run_folder_deleted_while_serving(service, tiny):
    doomed = tiny.runs / "doomed"
    shutil.copytree(tiny.runs / "sentiment-bilstm-attn", doomed)
    assert service.compare("sentiment", "run:doomed", ZERO_SHOT, "Good").a.ok
    shutil.rmtree(doomed)
    r = service.compare("sentiment", "run:doomed", ZERO_SHOT, "Good")
    assert not r.a.ok and "gone" in r.a.error and "↻" in r.a.error and r.b.ok
    assert not any(k[1] == str(doomed.resolve()) for k in service.cache.keys() if k[0] == "run")
    assert "run:doomed" not in [c.value for c in service.choices("sentiment")]


# --------------------------------------------------------------------------------------------------------------
# Pictures
# --------------------------------------------------------------------------------------------------------------


def test_heatmap_html_escapes_tokens_and_labels_both_axes(service):
    r = service.compare("sentiment", "run:sentiment-bilstm-attn", ZERO_SHOT, "<script>alert(1)</script> & co")
    page = heatmap_html(focus(r.b.maps), layer=None, head=None, title="B")
    assert "<script>alert" not in page and "&lt;" in page
    assert page.count('class="hfr-col"') == len(focus(r.b.maps).key_tokens)
    assert "mean of 2 layers, mean of 4 heads" in page
    one = heatmap_html(r.b.maps, layer=1, head=3)
    assert "layer 1, head 3" in one
    assert "<script>" not in note_html("<script>")


def test_heatmap_scales_colours_without_the_attention_sink():
    from hf_rnn.app.render import sink_vmax
    from hf_rnn.families.attention import AttentionMaps

    w = np.zeros((1, 1, 3, 3), dtype=np.float32)
    w[0, 0, :, 0] = [1.0, 0.8, 0.7]
    w[0, 0, 1, 1], w[0, 0, 2, 1:] = 0.2, [0.1, 0.2]
    maps = AttentionMaps(["a", "b", "c"], ["a", "b", "c"], w, "self-attention", "llm")
    assert sink_vmax(maps) == pytest.approx(0.2)
    assert "attention sink, up to 1.00" in heatmap_html(maps)
    cropped = AttentionMaps(["b", "c"], ["b", "c"], w[:, :, 1:, 1:], "self-attention", "llm",
                            meta={"cropped_from": 1})
    assert sink_vmax(cropped) is None and "attention sink" not in heatmap_html(cropped)
    pooled = AttentionMaps(["[pooled]"], ["a", "b"], np.array([[[[0.9, 0.1]]]]), "pooling", "rnn")
    assert sink_vmax(pooled) is None


def test_attention_png_download(service):
    r = service.compare("translation", "run:translation-bigru", ZERO_SHOT, "I like red apples")
    for maps, layer, head in ((r.a.maps, None, None), (r.b.maps, 1, 0)):
        path = service.attention_png(maps, layer, head)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000


# --------------------------------------------------------------------------------------------------------------
# Training a quick one
# --------------------------------------------------------------------------------------------------------------


def test_quick_train_reports_progress_and_adds_the_run(service, tiny, monkeypatch):
    fake_training(service, tiny, monkeypatch)
    seen = []
    value, message = service.quick_train("timeseries", progress=lambda f, d: seen.append((f, d)))
    assert value == "run:timeseries-rnn-quick" and "Trained" in message
    assert value in [c.value for c in service.choices("timeseries")]
    assert seen[-1] == (1.0, "done") and any(d.startswith("training:") for _, d in seen)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    again, _ = service.quick_train("timeseries")
    assert again == "run:timeseries-rnn-quick-2"  # never overwrites a run


def test_quick_train_failure_and_one_at_a_time(service, tiny, monkeypatch):
    fake_training(service, tiny, monkeypatch, fail=True)
    value, message = service.quick_train("sentiment")
    assert value is None and "failed" in message and "CUDA out of memory" in message
    assert service._train_lock.acquire(blocking=False)
    try:
        value, message = service.quick_train("sentiment")
        assert value is None and "already running" in message
    finally:
        service._train_lock.release()


def test_quick_train_that_writes_no_run_folder_says_so(service, tmp_path):
    argv = [sys.executable, "-c", "pass"]  # exits 0 and writes nothing
    value, message = service.quick_train("sentiment", argv=argv, out=tmp_path / "never-written")
    assert value is None and "wrote no run folder" in message


# --------------------------------------------------------------------------------------------------------------
# The API (gradio_client against the served page)
# --------------------------------------------------------------------------------------------------------------


def test_every_function_is_a_named_endpoint(client, url):
    assert url.startswith("http://127.0.0.1:")
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    expected = {f"/{t}{suffix}" for t in TASKS
                for suffix in ("", "_attention", "_png_a", "_png_b", "_models", "_train")}
    assert expected <= set(named)
    params = {name: [p["parameter_name"] for p in ep["parameters"]] for name, ep in named.items()}
    assert params["/sentiment"] == ["text", "model_a", "model_b"]
    assert params["/textgen"] == ["text", "model_a", "model_b", "max_new_tokens"]
    assert params["/timeseries"] == ["window", "model_a", "model_b"]
    assert params["/sentiment_attention"] == ["layer_a", "head_a", "layer_b", "head_b", "whole_prompt"]


def test_api_sentiment_then_attention_views_and_png(client):
    out = client.predict("Good, cheap food!", "run:sentiment-bilstm-attn", ZERO_SHOT, api_name="/sentiment")
    assert len(out) == 11
    label_a, label_b = value(out[0]), value(out[1])
    assert {c["label"] for c in label_a["confidences"]} == {"negative", "positive"}
    assert label_b["label"] in ("negative", "positive")
    assert "<table>" in out[2] and "<table>" in out[3] and "[pooled]" in out[2]
    assert [c[1] for c in out[6]["choices"]] == ["mean", "0", "1"]  # layers of the tiny Llama
    assert "ms" in out[8]
    heat_a, heat_b = client.predict("mean", "mean", "1", "2", True, api_name="/sentiment_attention")
    assert "layer 1, head 2" in heat_b and "&lt;|im_start|&gt;" in heat_b  # the whole prompt, system message too
    assert "[pooled]" in heat_a
    for endpoint, layer in (("/sentiment_png_a", "mean"), ("/sentiment_png_b", "0")):
        path = value(client.predict(layer, "mean", False, api_name=endpoint))
        assert Path(path).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("task", TASKS)
def test_api_each_task(client, service, task):
    a, b = service.defaults(task)
    if task == "timeseries":
        out = client.predict(3, a, b, api_name=f"/{task}")
        assert len(out) == 12 and "forecast" in value(out[0]) and "truth" in value(out[0])
        assert out[2] is not None  # the plot
        heat_b = out[4]
    else:
        args = (LECTURE_EXAMPLES[6], a, b) + ((6,) if task == "textgen" else ())
        out = client.predict(*args, api_name=f"/{task}")
        assert len(out) == 11 and value(out[0]) and value(out[1]) is not None  # the tiny LLM may say nothing
        heat_b = out[3]
        if task == "textgen":
            assert value(out[0]).startswith("Roses are red")
        if task == "pos":
            words = [d["token"] for d in value(out[0]) if d["token"].strip()]
            assert words == ["Roses", "are", "red"]
    assert "<table>" in heat_b
    client.predict("0", "mean", "0", "mean", False, api_name=f"/{task}_attention")
    listed_a, listed_b, hint = client.predict(a, b, api_name=f"/{task}_models")[:3]
    assert value(listed_a) == a and value(listed_b) == b and hint == ""


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_api_bad_inputs_answer_in_the_page(client, name):
    out = client.predict(BAD_INPUTS[name], "run:sentiment-bilstm-attn", ZERO_SHOT, api_name="/sentiment")
    status = out[8]
    assert "Traceback" not in status
    if name in ("empty", "spaces"):
        assert "⚠️" in status and "empty" in status and not value(out[0])
    else:
        assert value(out[0]) and value(out[1]) and "<table>" in out[2]
    if name == "long":
        assert "the first 256 were used" in status
    # the app keeps serving
    assert value(client.predict("Good", "run:sentiment-bilstm-attn", ZERO_SHOT, api_name="/sentiment")[0])


def test_api_deleted_run_folder_and_model_list_refresh(client, tiny):
    doomed = tiny.runs / "doomed-api"
    shutil.copytree(tiny.runs / "sentiment-bilstm-attn", doomed)
    choices = value(client.predict(None, None, api_name="/sentiment_models")[0])
    assert "run:doomed-api" in [c[1] for c in client.predict("run:doomed-api", ZERO_SHOT,
                                                               api_name="/sentiment_models")[0]["choices"]]
    assert choices
    assert value(client.predict("Good", "run:doomed-api", ZERO_SHOT, api_name="/sentiment")[0])
    shutil.rmtree(doomed)
    out = client.predict("Good", "run:doomed-api", ZERO_SHOT, api_name="/sentiment")
    assert "gone" in out[8] and not value(out[0]) and value(out[1])
    assert "No answer" in out[2]
    refreshed = client.predict("run:doomed-api", ZERO_SHOT, api_name="/sentiment_models")[0]
    assert refreshed["value"] == "run:sentiment-bilstm-attn"  # the default, since the picked run is gone
    assert "run:doomed-api" not in [c[1] for c in refreshed["choices"]]


def test_api_errors_inside_the_app_become_a_status_line(client, service, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire\nTraceback (most recent call last): ...")

    monkeypatch.setattr(service, "compare", broken)
    out = client.predict("Good", "run:sentiment-bilstm-attn", ZERO_SHOT, api_name="/sentiment")
    assert "Something went wrong: disk on fire" in out[8] and "Traceback" not in out[8]
    monkeypatch.undo()
    assert value(client.predict("Good", "run:sentiment-bilstm-attn", ZERO_SHOT, api_name="/sentiment")[0])


def test_api_png_without_a_map_is_a_message(client):
    client.predict("Good", "run:sentiment-bilstm", ZERO_SHOT, api_name="/sentiment")
    assert value(client.predict("mean", "mean", False, api_name="/sentiment_png_a")) is None


@pytest.mark.parametrize("task", TASKS)
def test_api_train_a_quick_one(client, service, tiny, monkeypatch, task):
    fake_training(service, tiny, monkeypatch)
    a, b = service.defaults(task)
    out = client.predict(a, b, api_name=f"/{task}_train")
    status = out[-1]
    assert "✅ Trained" in status, status
    new = value(out[0])
    assert new.startswith(f"run:{task}-") and "-quick" in new
    assert new in [c[1] for c in out[0]["choices"]]


# --------------------------------------------------------------------------------------------------------------
# Serving: the command line and apps/compare_app.py
# --------------------------------------------------------------------------------------------------------------


def test_cli_defaults_to_localhost_and_checks_its_arguments(capsys):
    from hf_rnn.cli import build_parser, main

    args = build_parser().parse_args(["app"])
    assert (args.host, args.port, args.runs, args.threads) == ("127.0.0.1", 7860, "runs", 1)
    assert main(["app", "--port", "70000"]) == 2
    assert "--port must be between" in capsys.readouterr().err


def test_cli_says_when_the_port_is_taken(service, url, capsys):
    import torch

    from hf_rnn.cli import main

    port = url.rstrip("/").rsplit(":", 1)[1]
    threads = torch.get_num_threads()
    try:
        assert main(["app", "--runs", str(service.runs_dir), "--port", port]) == 2
    finally:
        torch.set_num_threads(threads)  # `hf-rnn app` sets one thread per request
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "another --port" in err and "Traceback" not in err


def test_serve_binds_localhost_without_share_link(service):
    with serve(service) as address:
        import gradio as gr

        assert address.startswith("http://127.0.0.1:")
        demo = next(b for b in gr.Blocks.instances if getattr(b, "local_url", None) == address)
        assert demo.share is False and demo.share_url is None


def test_compare_app_script_serves_the_app(tiny):
    from gradio_client import Client

    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    script = Path(__file__).resolve().parents[1] / "apps" / "compare_app.py"
    proc = subprocess.Popen([sys.executable, str(script), "--runs", str(tiny.runs), "--llm", str(tiny.llm),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=120)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False)
        out = client.predict("Good, cheap food!", "run:sentiment-bilstm-attn", ZERO_SHOT, api_name="/sentiment")
        assert value(out[0])["label"] in ("negative", "positive")
    finally:
        proc.terminate()
        try:
            output = proc.communicate(timeout=20)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            proc.kill()
            output = proc.communicate()[0].decode(errors="replace")
    assert f"http://127.0.0.1:{port}/" in output
    assert "Traceback" not in output, output[-2000:]


def test_numpy_free_of_nan_in_maps(service):
    r = service.compare("sentiment", "run:sentiment-bilstm-attn", ZERO_SHOT, "Neat plot. Great acting.")
    for maps in (r.a.maps, r.b.maps):
        assert np.isfinite(maps.weights).all()
        rows = maps.weights.sum(-1)
        assert np.allclose(rows, 1.0, atol=1e-4)


def test_a_tagger_trained_on_repeated_input_reads_it_twice_in_the_app(tmp_path, tiny_llama):
    """A run with task option repeat_input is served with the same doubled input it was trained on."""
    from hf_rnn.app.service import AppService
    from hf_rnn.cli import main as cli

    run = tmp_path / "runs" / "pos-twice"
    assert cli(["train", "--task", "pos", "--model", str(tiny_llama), "--output-dir", str(run),
                "task.max_train_examples=16", "task.max_validation_examples=4", "task.max_test_examples=4",
                "training.max_steps=2", "training.batch_size=4", "training.progress_bar=false",
                "task.options={repeat_input: true}"]) == 0
    service = AppService(tmp_path / "runs")
    seen = []
    loaded = service._load(  # the loaded run knows how it reads its input
        "pos", service.resolve("pos", "run:pos-twice"))
    assert loaded.task_options["repeat_input"] is True
    loaded.model.register_forward_pre_hook(lambda _, args, kwargs: seen.append(kwargs["input_ids"].shape[1]),
                                           with_kwargs=True)
    r = service.compare("pos", "run:pos-twice", None, "Pass me the orange marker")
    assert r.a.ok and [w for w, _ in r.a.output] == ["Pass", "me", "the", "orange", "marker"]
    assert seen and seen[0] == 10  # five one-token words, twice
    service.close()


def test_a_prompt_trained_llm_run_answers_as_its_classifier_with_the_question_s_maps(tmp_path, tiny_llama):
    """A sentiment LLM run trained through its LM head (model.head=prompt) is served as the classifier it was
    tested as: the same probabilities, and the attention of the causal LM over the question it asks."""
    import torch

    from hf_rnn.app.service import AppService
    from hf_rnn.cli import main as cli
    from hf_rnn.families.llm.llm_prompt import PromptClassifier
    from hf_rnn.runs.run import load_run_model

    run = tmp_path / "runs" / "sentiment-prompt"
    assert cli(["train", "--task", "sentiment", "--model", str(tiny_llama), "--output-dir", str(run),
                "task.max_train_examples=16", "task.max_validation_examples=4", "task.max_test_examples=4",
                "training.max_steps=2", "training.batch_size=4", "training.progress_bar=false",
                "training.learning_rate=1e-2"]) == 0
    service = AppService(tmp_path / "runs")
    text = "Neat plot. Great acting."
    r = service.compare("sentiment", "run:sentiment-prompt", None, text)
    assert r.a.ok, r.a.error
    clf, tok = load_run_model(run)
    assert isinstance(clf, PromptClassifier)
    ids = tok(text, return_tensors="pt")
    with torch.no_grad():
        expected = clf(**ids).logits[0].softmax(-1).tolist()
    for label, p in zip(clf.label_names, expected):
        assert r.a.output[label] == pytest.approx(p, abs=1e-4)
    assert r.a.maps.kind == "self-attention" and r.a.maps.key_tokens[r.a.maps.meta["input_start"]] == "Ne"
    assert any(n.startswith("prompt-trained:") for n in r.a.notices)
    service.close()
