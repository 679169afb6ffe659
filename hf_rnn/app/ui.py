"""The Gradio page: a tab per task, two models side by side, both attention maps.

Every function of the page is a named API endpoint, so ``gradio_client`` can drive it (``TASK`` is
``sentiment``, ``pos``, ``textgen``, ``translation`` or ``timeseries``):

=====================  ===========================================================  ================================
api_name               arguments                                                    returns
=====================  ===========================================================  ================================
``/TASK``              text (``window`` for timeseries), model_a, model_b           both outputs, both heatmaps
                       (+ ``max_new_tokens`` for textgen)                           (HTML), layer/head choices, status
``/TASK_attention``    layer_a, head_a, layer_b, head_b, whole_prompt               both heatmaps again
``/TASK_png_a``        layer_a, head_a, whole_prompt (``_png_b``: the B side)        a PNG file of that heatmap
``/TASK_models``       model_a, model_b                                             model lists, hint (rescans runs)
``/TASK_train``        model_a, model_b                                             new model lists, status
=====================  ===========================================================  ================================

Model values are ``"zero-shot"`` or ``"run:<folder under the runs folder>"`` (``/TASK_models`` lists them).
Layer and head are ``"mean"`` or an index as a string. The attention endpoints read the maps of the last
comparison in the same session (a ``gradio_client.Client`` keeps one session).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

import gradio as gr

from hf_rnn.app.render import forecast_figure, heatmap_html, note_html
from hf_rnn.app.service import (
    HEATMAP_NOTE_NO_MODEL,
    LECTURE_EXAMPLES,
    AppService,
    Prediction,
    SideBySide,
    focus,
)
from hf_rnn.tasks import TASKS

logger = logging.getLogger(__name__)

TAG_COLOURS = {
    "NOUN": "#7aa6f0", "VERB": "#f08a7a", "ADJ": "#f2c14e", "ADV": "#c9a0f0", "PRON": "#7ed6b4", "DET": "#b0b7c3",
    "ADP": "#9fd4f0", "NUM": "#f0a8d0", "CONJ": "#d4c8a0", "PRT": "#a8e07a", ".": "#dddddd", "X": "#eeeeee",
}

INTRO = """# RNNs and a small LLM, side by side
Pick a task (tab) and two models: any run you trained (`hf-rnn train ... --output-dir runs/...`) or the built-in
**SmolLM2-135M-Instruct zero-shot**, which needs no training. Type a sentence or click one of the lecture's
examples: both answers appear next to each other, and below them both attention maps (layer and head selectable,
the mean by default; PNG download under each)."""

CSS = """
.hfr-side {min-width: 320px}
.hfr-status p {margin: 0.2em 0}
"""


# --------------------------------------------------------------------------------------------------------------
# Small converters
# --------------------------------------------------------------------------------------------------------------


def _index(value: Any) -> int | None:
    """A layer/head selector value: "mean" (or anything not a number) → None, "3" → 3."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _selector_updates(maps) -> tuple[dict, dict]:
    if maps is None or (maps.num_layers == 1 and maps.num_heads == 1):
        single = [("single map", "mean")] if maps is not None else [("—", "mean")]
        return (gr.update(choices=single, value="mean", interactive=False),
                gr.update(choices=single, value="mean", interactive=False))
    layers = [("mean of all layers", "mean")] + [(f"layer {i}", str(i)) for i in range(maps.num_layers)]
    heads = [("mean of all heads", "mean")] + [(f"head {i}", str(i)) for i in range(maps.num_heads)]
    return (gr.update(choices=layers, value="mean", interactive=maps.num_layers > 1),
            gr.update(choices=heads, value="mean", interactive=maps.num_heads > 1))


def _heat(state: dict | None, layer: Any = "mean", head: Any = "mean", whole_prompt: bool = False) -> str:
    if not state:
        return note_html(HEATMAP_NOTE_NO_MODEL)
    maps = state.get("maps")
    if maps is None:
        return note_html(state.get("note") or HEATMAP_NOTE_NO_MODEL)
    shown = focus(maps, bool(whole_prompt))
    layer_i, head_i = _index(layer), _index(head)
    if layer_i is not None and not -maps.num_layers <= layer_i < maps.num_layers:
        layer_i = None
    if head_i is not None and not -maps.num_heads <= head_i < maps.num_heads:
        head_i = None
    return heatmap_html(shown, layer_i, head_i, title=f"{state.get('side', '')} · {maps.model_name}")


def _state(pred: Prediction) -> dict:
    note = pred.attention_note or (f"No answer: {pred.error}" if pred.error else None)
    return {"side": pred.side, "maps": pred.maps, "note": note}


def _main_output(task: str, pred: Prediction, series: dict | None = None, text: str | None = None) -> dict:
    """One side's answer as the task's kind shows it (``Task.app_display``)."""
    label = f"{pred.side} · {pred.label}"
    if not pred.ok or pred.output is None:
        return gr.update(value=None, label=f"{label} (no answer)")
    return gr.update(value=TASKS[task].app_display(pred.output, text, series), label=label)


def _comparison_outputs(task: str, result: SideBySide, text: str | None = None) -> list:
    """The compare endpoint's outputs: out_a, out_b, [plot], heat_a, heat_b, layer_a, head_a, layer_b, head_b,
    status, file_a, file_b, state_a, state_b."""
    if result.error:
        gr.Warning(result.error)
    for pred in (result.a, result.b):
        if pred.error and pred.value:  # an empty slot is said in the status and the heatmap's place, no toast
            gr.Warning(f"{pred.side}: {pred.error}")
    a, b = result.a, result.b
    outputs: list[Any] = [_main_output(task, a, result.series, text), _main_output(task, b, result.series, text)]
    if TASKS[task].app_input == "window":  # the window's plot: history, truth and both forecasts
        outputs.append(forecast_figure(result.series, [(f"A · {a.label}", a.output if a.ok else None),
                                                       (f"B · {b.label}", b.output if b.ok else None)]))
    state_a, state_b = _state(a), _state(b)
    if result.error:
        state_a = state_b = None
    outputs += [_heat(state_a), _heat(state_b), *_selector_updates(a.maps), *_selector_updates(b.maps),
                result.status_markdown(), gr.update(value=None, visible=False), gr.update(value=None, visible=False),
                state_a, state_b]
    return outputs


def _safe(fn: Callable, n_outputs: int, status_index: int) -> Callable:
    """Run ``fn``; on any exception leave the page as it is and put one friendly line in the status."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # never a traceback in the page
            logger.exception("%s failed", getattr(fn, "__name__", "app function"))
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            message = f"Something went wrong: {first}. The app is still running; try again or pick another model."
            gr.Warning(message)
            out = [gr.skip()] * n_outputs
            out[status_index] = f"⚠️ {message}"
            return out[0] if n_outputs == 1 else tuple(out)

    return wrapper


# --------------------------------------------------------------------------------------------------------------
# One tab
# --------------------------------------------------------------------------------------------------------------


def _task_tab(demo: gr.Blocks, service: AppService, task: str) -> None:
    choices = [(c.label, c.value) for c in service.choices(task)]
    default_a, default_b = service.defaults(task)
    cls = TASKS[task]  # what the page asks for and shows is the task's kind's (a new kind needs no edit here)
    series = cls.app_input == "window"
    zero_shot_note = "" if TASKS[task].zero_shot else \
        f" (the LLM cannot answer this task zero-shot: fine-tune one with `hf-rnn train --task {task} --model smollm2`)"

    with gr.Tab(TASKS[task].title or task, id=task, elem_id=f"tab-{task}"):
        with gr.Row(equal_height=True):
            model_a = gr.Dropdown(choices, value=default_a, label="Model A", allow_custom_value=True, scale=6,
                                  elem_id=f"{task}-model-a")
            model_b = gr.Dropdown(choices, value=default_b, label="Model B", allow_custom_value=True, scale=6,
                                  elem_id=f"{task}-model-b", info=zero_shot_note or None)
            refresh = gr.Button("↻ models", scale=1, min_width=90, size="sm", elem_id=f"{task}-refresh")
            train = gr.Button("Train a quick RNN (~1 min)", scale=2, min_width=150, size="sm",
                              elem_id=f"{task}-train")
        hint = gr.Markdown(service.train_hint(task), elem_id=f"{task}-hint")

        extra_inputs: list[gr.Component] = []
        if series:
            try:
                _, windows = service.windows(default_a, default_b, task)
                n_windows = len(windows)
            except Exception:  # the data is checked again (with a message) when a comparison runs
                n_windows = 1
            source = gr.Slider(0, max(n_windows - 1, 1), value=0, step=1, label="Test window (which step to forecast)",
                               elem_id=f"{task}-window")
        else:
            source = gr.Textbox(label="Input", placeholder=TASKS[task].input_hint, lines=2, max_lines=8,
                                elem_id=f"{task}-input")
            if cls.app_new_tokens:
                extra_inputs.append(gr.Slider(5, 80, value=30, step=1, label="New tokens",
                                              elem_id=f"{task}-new-tokens"))
        go = gr.Button("Compare", variant="primary", elem_id=f"{task}-compare")
        examples = None
        ordered = cls.app_examples(LECTURE_EXAMPLES)  # the task's own first
        if ordered:
            examples = gr.Examples([[e] for e in ordered], inputs=[source], label="The lecture's examples",
                                   examples_per_page=7)

        with gr.Row(equal_height=False):
            with gr.Column(elem_classes="hfr-side"):
                out_a = _output_component(task, "A", f"{task}-out-a")
            with gr.Column(elem_classes="hfr-side"):
                out_b = _output_component(task, "B", f"{task}-out-b")
        plot = gr.Plot(label="Forecast", elem_id=f"{task}-plot") if series else None
        status = gr.Markdown(elem_id=f"{task}-status", elem_classes="hfr-status")

        gr.Markdown("### Attention")
        whole = gr.Checkbox(False, label="Show the whole prompt (the chat template's system message and "
                                         "instruction) in the LLM's map", visible=cls.app_prompt_maps,
                            elem_id=f"{task}-whole")
        with gr.Row(equal_height=False):
            with gr.Column(elem_classes="hfr-side"):
                heat_a = gr.HTML(note_html(HEATMAP_NOTE_NO_MODEL), elem_id=f"{task}-heat-a")
                with gr.Row():
                    layer_a = gr.Dropdown([("—", "mean")], value="mean", label="Layer", interactive=False,
                                          allow_custom_value=True,
                                          elem_id=f"{task}-layer-a")
                    head_a = gr.Dropdown([("—", "mean")], value="mean", label="Head", interactive=False,
                                          allow_custom_value=True,
                                         elem_id=f"{task}-head-a")
                    png_a = gr.Button("PNG", size="sm", min_width=60, elem_id=f"{task}-png-a")
                file_a = gr.File(label="Heatmap A (PNG)", visible=False, elem_id=f"{task}-file-a")
            with gr.Column(elem_classes="hfr-side"):
                heat_b = gr.HTML(note_html(HEATMAP_NOTE_NO_MODEL), elem_id=f"{task}-heat-b")
                with gr.Row():
                    layer_b = gr.Dropdown([("—", "mean")], value="mean", label="Layer", interactive=False,
                                          allow_custom_value=True,
                                          elem_id=f"{task}-layer-b")
                    head_b = gr.Dropdown([("—", "mean")], value="mean", label="Head", interactive=False,
                                          allow_custom_value=True,
                                         elem_id=f"{task}-head-b")
                    png_b = gr.Button("PNG", size="sm", min_width=60, elem_id=f"{task}-png-b")
                file_b = gr.File(label="Heatmap B (PNG)", visible=False, elem_id=f"{task}-file-b")
        state_a, state_b = gr.State(None), gr.State(None)

    # ---------------------------------------------------------------- compare
    outputs = [out_a, out_b] + ([plot] if series else []) + [heat_a, heat_b, layer_a, head_a, layer_b, head_b,
                                                            status, file_a, file_b, state_a, state_b]
    status_index = outputs.index(status)

    if series:
        def compare(window: float, model_a: str, model_b: str):
            return _comparison_outputs(task, service.compare(task, model_a, model_b, window=window))
    elif cls.app_new_tokens:
        def compare(text: str, model_a: str, model_b: str, max_new_tokens: float = 30):
            return _comparison_outputs(task, service.compare(task, model_a, model_b, text,
                                                             max_new_tokens=int(max_new_tokens)), text)
    else:
        def compare(text: str, model_a: str, model_b: str):
            return _comparison_outputs(task, service.compare(task, model_a, model_b, text))
    compare.__name__ = task
    compare_fn = _safe(compare, len(outputs), status_index)
    inputs = [source, model_a, model_b, *extra_inputs]
    go.click(compare_fn, inputs, outputs, api_name=task, api_description=f"Compare two models on {task}")
    if not series:
        source.submit(compare_fn, inputs, outputs, api_visibility="private")
        if examples is not None:
            examples.load_input_event.then(compare_fn, inputs, outputs, api_visibility="private")

    # ---------------------------------------------------------------- attention views
    def attention(layer_a: str, head_a: str, layer_b: str, head_b: str, whole_prompt: bool,
                  state_a: dict | None, state_b: dict | None):
        return _heat(state_a, layer_a, head_a, whole_prompt), _heat(state_b, layer_b, head_b, whole_prompt)

    gr.on([layer_a.input, head_a.input, layer_b.input, head_b.input, whole.input],
          _safe(attention, 2, 0), [layer_a, head_a, layer_b, head_b, whole, state_a, state_b], [heat_a, heat_b],
          api_name=f"{task}_attention", show_progress="hidden")

    def png(layer: str, head: str, whole_prompt: bool, state: dict | None):
        if not state or state.get("maps") is None:
            gr.Warning("No attention map to save: run a comparison with a model that has attention first.")
            return gr.update(value=None, visible=False)
        path = service.attention_png(state["maps"], _index(layer), _index(head), bool(whole_prompt))
        return gr.update(value=str(path), visible=True)

    png_a.click(_safe(png, 1, 0), [layer_a, head_a, whole, state_a], file_a, api_name=f"{task}_png_a")
    png_b.click(_safe(png, 1, 0), [layer_b, head_b, whole, state_b], file_b, api_name=f"{task}_png_b")

    # ---------------------------------------------------------------- model lists, training
    model_outputs = [model_a, model_b, hint] + ([source] if series else [])

    def models(model_a: str | None, model_b: str | None):
        found = service.choices(task)
        listed = [(c.label, c.value) for c in found]
        values = {c.value for c in found}
        da, db = service.defaults(task)
        a = model_a if model_a in values else da
        b = model_b if model_b in values else db
        out = [gr.update(choices=listed, value=a), gr.update(choices=listed, value=b), service.train_hint(task)]
        if series:
            _, windows = service.windows(a, b, task)
            out.append(gr.update(maximum=max(len(windows) - 1, 1)))
        return tuple(out)

    gr.on([refresh.click, demo.load], _safe(models, len(model_outputs), 2), [model_a, model_b], model_outputs,
          api_name=f"{task}_models", show_progress="hidden")

    def train_quick(model_a: str | None, model_b: str | None, progress=gr.Progress()):  # noqa: B008
        progress(0.0, desc="starting")
        value, message = service.quick_train(task, progress=lambda f, d: progress(f, desc=d))
        if value is None:
            gr.Warning(message)
        updated = list(models(value or model_a, model_b))
        return (*updated, f"{'✅' if value else '⚠️'} {message}")

    train.click(_safe(train_quick, len(model_outputs) + 1, len(model_outputs)), [model_a, model_b],
                model_outputs + [status], api_name=f"{task}_train", concurrency_limit=1,
                concurrency_id="train")


def _output_component(task: str, side: str, elem_id: str):
    """The component of the task's ``app_output``: probabilities per label, a tag per word, one line or a few."""
    label = f"Model {side}"
    shown = TASKS[task].app_output
    if shown == "label":
        return gr.Label(label=label, num_top_classes=5, elem_id=elem_id)
    if shown == "tags":
        return gr.HighlightedText(label=label, color_map=TAG_COLOURS, show_legend=False, combine_adjacent=False,
                                  elem_id=elem_id)
    return gr.Textbox(label=label, lines=1 if shown == "line" else 4, interactive=False, elem_id=elem_id)


# --------------------------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------------------------


def build_app(service: AppService) -> gr.Blocks:
    """The Blocks of the app on ``service`` (not launched)."""
    with gr.Blocks(title="hf_rnn · RNN vs LLM", analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            for task in TASKS:
                _task_tab(demo, service, task)
    demo.queue(default_concurrency_limit=4)
    return demo


def launch(runs_dir: str = "runs", host: str = "127.0.0.1", port: int | None = 7860, *, llm: str | None = None,
           llm_dtype: str | None = None, threads: int | None = 1, warm_up: bool = True, block: bool = True, quiet: bool = False,
           service: AppService | None = None) -> tuple[gr.Blocks, str, AppService]:
    """Serve the app on ``host:port`` (127.0.0.1 by default: this machine only; never a share link).

    Args:
        runs_dir: where trained run folders are found.
        llm: the zero-shot LLM (default: the built-in SmolLM2-135M-Instruct).
        llm_dtype: ``"float32"`` (default) or ``"bfloat16"`` for the LLMs (see ``AppService``).
        threads: torch threads per request (1: concurrent requests run on separate cores, without two
            thread pools fighting over them); ``None`` keeps torch's default.
        warm_up: load the sentiment tab's models in the background right away.
        block: serve until interrupted; ``False`` returns once the server answers (tests, benchmarks).

    Returns:
        ``(demo, url, service)``.
    """
    if threads is not None:
        import torch

        torch.set_num_threads(max(1, int(threads)))
    service = service or AppService(runs_dir, llm, llm_dtype=llm_dtype)
    demo = build_app(service)
    _, url, _ = demo.launch(
        server_name=host, server_port=port, share=False, prevent_thread_lock=not block, quiet=quiet,
        show_error=False, inbrowser=False, ssr_mode=False, mcp_server=False, enable_monitoring=False,
        run_history=False, footer_links=["api"], state_session_capacity=200, css=CSS,
        theme=gr.themes.Default(primary_hue="blue"),
    )
    if warm_up:  # the page is up; load the first tab's models while someone opens it
        threading.Thread(target=service.warm_up, name="hf_rnn-app-warm-up", daemon=True).start()
    return demo, url, service


__all__ = ["build_app", "launch"]
