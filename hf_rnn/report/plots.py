"""Plots for attention maps and model comparisons (matplotlib, no display needed).

Figures are built with ``matplotlib.figure.Figure`` directly, not ``pyplot``: nothing is registered with a GUI
backend, so the functions work headless (Agg for PNG, the SVG backend for SVG) and a saved figure needs no
closing. Every function returns the Figure (Jupyter shows it); those that take a ``path`` save it there, as PNG
or SVG by the suffix, and close it if pyplot manages it.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hf_rnn.families.attention import AttentionMaps

SAVE_FORMATS = ("png", "svg")
_CELL_INCHES = 0.32  # one token's row/column in an attention heatmap
_MAX_INCHES = 26.0
_MAX_LABELS = 80
# no <metadata> block (creator URL, date): files are reproducible and hold no links
_NO_SVG_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}  # above this many tokens only every n-th tick is labelled

_AXIS_NAMES = {
    "self-attention": ("attended token (key)", "token (query)"),
    "encoder-decoder alignment": ("source token (encoder)", "target token (decoder)"),
    "pooling": ("input token", ""),
}


# --------------------------------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------------------------------


def _format_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in SAVE_FORMATS:
        raise ValueError(f"cannot save {str(path)!r}: use a .png or .svg file name")
    return suffix


def save_figure(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Save ``fig`` as PNG or SVG (by the suffix of ``path``), creating the folder; return the path."""
    path = Path(path)
    fmt = _format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # tokens in scripts DejaVu Sans lacks (Thai, CJK, emoji) are drawn as boxes: say nothing about it
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        warnings.filterwarnings("ignore", message=".*constrained_layout not applied.*")
        fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight",
                    metadata=_NO_SVG_METADATA if fmt == "svg" else None)
    return path


def _finish(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        save_figure(fig, path)
        _close(fig)
    return fig


def _close(fig: Figure) -> None:
    """Close a figure that pyplot manages (one drawn into a user's ``ax``); ours have no manager."""
    if getattr(fig.canvas, "manager", None) is not None:
        import matplotlib.pyplot as plt

        plt.close(fig)


def _new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(min(width, _MAX_INCHES), min(height, _MAX_INCHES)), layout="constrained")


# --------------------------------------------------------------------------------------------------------------
# Attention heatmaps
# --------------------------------------------------------------------------------------------------------------


def _label(token: str) -> str:
    """Tick-label text: "$" would start matplotlib mathtext."""
    token = token.replace("$", r"\$")
    return token if len(token) <= 18 else token[:17] + "…"


def _font_size(n: int) -> float:
    return 9.0 if n <= 30 else 8.0 if n <= 50 else 6.5


def _set_ticks(ax: Axes, axis: str, tokens: Sequence[str]) -> None:
    n = len(tokens)
    step = max(1, math.ceil(n / _MAX_LABELS))
    positions = list(range(0, n, step))
    labels = [_label(tokens[i]) for i in positions]
    if axis == "x":
        ax.set_xticks(positions, labels, rotation=90, fontsize=_font_size(n))
    else:
        ax.set_yticks(positions, labels, fontsize=_font_size(n))


def _title(maps: AttentionMaps, layer: int | None, head: int | None) -> str:
    return f"{maps.model_name}: {maps.kind}\n{maps.describe(layer, head)}"


def _heatmap_size(maps: AttentionMaps) -> tuple[float, float]:
    n_query, n_key = len(maps.query_tokens), len(maps.key_tokens)
    longest_key = max((len(_label(t)) for t in maps.key_tokens), default=1)
    longest_query = max((len(_label(t)) for t in maps.query_tokens), default=1)
    width = max(4.5, _CELL_INCHES * min(n_key, _MAX_LABELS) + 0.08 * longest_query + 2.2)
    height = max(2.6, _CELL_INCHES * min(n_query, _MAX_LABELS) + 0.08 * longest_key + 1.4)
    return width, height


def _draw_attention(ax: Axes, maps: AttentionMaps, layer: int | None, head: int | None,
                    vmax: float | None = None, colorbar: bool = True):
    weights = maps.select(layer, head)
    top = float(weights.max()) if vmax is None else vmax
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=top if top > 0 else 1.0, aspect="auto",
                      interpolation="nearest")
    extend = "max" if vmax is not None and float(weights.max()) > vmax else "neither"
    _set_ticks(ax, "x", maps.key_tokens)
    _set_ticks(ax, "y", maps.query_tokens)
    x_name, y_name = _AXIS_NAMES[maps.kind]
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.set_title(_title(maps, layer, head), fontsize=10)
    if maps.kind == "self-attention" and maps.prompt_length and maps.prompt_length < len(maps.query_tokens):
        # where the prompt ends and the generated (or teacher-forced) tokens begin
        edge = maps.prompt_length - 0.5
        ax.axhline(edge, color="white", linewidth=1.0, linestyle="--")
        ax.axvline(edge, color="white", linewidth=1.0, linestyle="--")
    if colorbar:
        bar = ax.figure.colorbar(image, ax=ax, fraction=0.05, pad=0.02, extend=extend)
        bar.set_label("attention weight")
    return image


def plot_attention(maps: AttentionMaps, layer: int | None = None, head: int | None = None,
                   ax: Axes | None = None, path: str | Path | None = None, vmax: float | None = None) -> Figure:
    """Heatmap of one layer/head (``None`` = mean over layers/heads), tokens on both axes, with a colorbar.

    Draws into ``ax`` when given (e.g. a subplot of your own figure), else into a new figure sized to the tokens.
    A dashed line marks where the prompt ends when generated tokens are included. ``vmax`` caps the colour
    scale (default: the largest weight); LLMs put most weight on the first token (an "attention sink"), and a
    cap such as 0.3 makes the rest visible.
    """
    if ax is None:
        fig = _new_figure(*_heatmap_size(maps))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    _draw_attention(ax, maps, layer, head, vmax=vmax)
    return _finish(fig, path)


def save_attention(maps: AttentionMaps, path: str | Path, layer: int | None = None,
                   head: int | None = None, vmax: float | None = None) -> Figure:
    """Save the heatmap of :func:`plot_attention` as PNG or SVG (by the suffix of ``path``)."""
    _format_of(path)
    return plot_attention(maps, layer=layer, head=head, path=path, vmax=vmax)


def figure_to_svg(fig: Figure) -> str:
    """The figure as an SVG string with text kept as text (searchable, selectable)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata=_NO_SVG_METADATA)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE


def _inline_svg(fig: Figure) -> str:
    """SVG for inlining in HTML5, where the namespace declarations are implicit: without them the page holds
    no URL at all (they are identifiers, never fetched, but a strict "no external URL" check cannot know)."""
    svg = figure_to_svg(fig)
    head_end = svg.index(">")
    head = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg[:head_end])
    return head + svg[head_end:]


def figure_to_png_base64(fig: Figure, dpi: int = 120) -> str:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def attention_html(maps: AttentionMaps, layer: int | None = None, head: int | None = None,
                   image: str = "svg", title: str | None = None) -> str:
    """A self-contained HTML page (no external files, scripts or fonts) with the heatmap.

    ``image="svg"`` inlines the figure as SVG with text as text (the tokens are searchable in the page);
    ``image="png"`` embeds a base64 PNG. The page also lists the query and key tokens.
    """
    if image not in ("svg", "png"):
        raise ValueError(f"image must be 'svg' or 'png'; got {image!r}")
    fig = plot_attention(maps, layer=layer, head=head)
    if image == "svg":
        body = _inline_svg(fig)
    else:
        alt = html.escape(f"{maps.kind} heatmap of {maps.model_name}")
        body = f'<img alt="{alt}" src="data:image/png;base64,{figure_to_png_base64(fig)}">'
    heading = html.escape(title or f"{maps.model_name}: {maps.kind}")
    detail = html.escape(maps.describe(layer, head))
    queries = " ".join(f"<code>{html.escape(t)}</code>" for t in maps.query_tokens)
    keys = " ".join(f"<code>{html.escape(t)}</code>" for t in maps.key_tokens)
    text = f"<p>Input: <q>{html.escape(maps.text)}</q></p>" if maps.text else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{heading}</title>"
        "<style>body{font-family:sans-serif;margin:1.5em}figure{margin:0}svg,img{max-width:100%;height:auto}"
        "code{background:#f2f2f2;padding:0 .2em;margin:0 .1em}</style></head><body>"
        f"<h2>{heading}</h2><p>{detail}</p>{text}<figure>{body}</figure>"
        f"<p>Queries (rows): {queries}</p><p>Keys (columns): {keys}</p>"
        "</body></html>\n"
    )


def plot_side_by_side(maps_a: AttentionMaps, maps_b: AttentionMaps, path: str | Path | None = None,
                      layer_a: int | None = None, head_a: int | None = None,
                      layer_b: int | None = None, head_b: int | None = None) -> Figure:
    """Two attention heatmaps next to each other (e.g. an RNN's alignment and the LLM's self-attention on the
    same sentence), each with its own colorbar. Layers/heads are averaged unless chosen."""
    width_a, height_a = _heatmap_size(maps_a)
    width_b, height_b = _heatmap_size(maps_b)
    fig = Figure(figsize=(min(width_a + width_b, 2 * _MAX_INCHES), min(max(height_a, height_b), _MAX_INCHES)),
                 layout="constrained")
    ax_a, ax_b = fig.subplots(1, 2, width_ratios=[max(width_a, 1.0), max(width_b, 1.0)])
    _draw_attention(ax_a, maps_a, layer_a, head_a)
    _draw_attention(ax_b, maps_b, layer_b, head_b)
    return _finish(fig, path)


# --------------------------------------------------------------------------------------------------------------
# Comparison plots
# --------------------------------------------------------------------------------------------------------------


def plot_learning_curves(curves: Mapping[str, Sequence[Sequence[float]]], metric_name: str,
                         path: str | Path | None = None, title: str | None = None,
                         log_x: bool = False) -> Figure:
    """Validation metric during training, for several models: left against optimizer steps, right against
    wall-clock seconds (a model that learns in fewer steps may still be slower).

    Args:
        curves: ``{model_name: [(step, seconds, metric), ...]}``.
        metric_name: the y-axis label (e.g. ``"accuracy"``).
        log_x: logarithmic x axes (useful when models train for very different lengths).
    """
    fig = _new_figure(11.0, 4.2)
    ax_steps, ax_time = fig.subplots(1, 2, sharey=True)
    for name, points in curves.items():
        points = sorted((float(s), float(t), float(m)) for s, t, m in points)
        if not points:
            continue
        steps, seconds, values = (np.asarray(v) for v in zip(*points))
        line, = ax_steps.plot(steps, values, marker="o", markersize=3, label=str(name))
        ax_time.plot(seconds, values, marker="o", markersize=3, color=line.get_color(), label=str(name))
    ax_steps.set_xlabel("training steps")
    ax_time.set_xlabel("training time (seconds)")
    ax_steps.set_ylabel(metric_name)
    for ax in (ax_steps, ax_time):
        ax.grid(True, alpha=0.3)
        if log_x:
            ax.set_xscale("log")
    if curves:
        ax_time.legend(fontsize=8, loc="best")
    fig.suptitle(title or f"{metric_name} during training")
    return _finish(fig, path)


def plot_quality_vs_parameters(rows: Sequence[Mapping[str, Any]], metric_name: str,
                               path: str | Path | None = None, title: str | None = None) -> Figure:
    """Scatter of a quality metric against the number of parameters (log x axis), one labelled point per model.

    Args:
        rows: dicts with ``"model"`` (or ``"name"``), ``"parameters"`` (or ``"num_parameters"``) and the metric
            under ``metric_name`` (or ``"value"``); an optional ``"family"`` (``"rnn"``/``"llm"``) sets the marker.
    """
    fig = _new_figure(7.0, 4.8)
    ax = fig.add_subplot()
    from hf_rnn.families import FAMILIES

    seen_families: set[str] = set()
    for row in rows:
        name = str(row.get("model", row.get("name", "?")))
        params = row.get("parameters", row.get("num_parameters"))
        value = row.get(metric_name, row.get("value"))
        if params is None or value is None:
            raise ValueError(f"row {dict(row)!r} needs 'parameters' and {metric_name!r} (or 'value')")
        family = str(row.get("family", ""))
        label = family.upper() if family and family not in seen_families else None
        seen_families.add(family)
        marker, color = FAMILIES[family].plot_style if family in FAMILIES else ("D", "tab:green")  # a reference
        ax.scatter([float(params)], [float(value)], marker=marker, s=45, label=label, color=color, zorder=3)
        ax.annotate(name, (float(params), float(value)), xytext=(5, 4), textcoords="offset points", fontsize=8)
    ax.set_xscale("log")
    ax.margins(x=0.15, y=0.1)  # room for the labels of the extreme points
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel(metric_name)
    ax.grid(True, which="both", alpha=0.3)
    if any(row.get("family") for row in rows):
        ax.legend(fontsize=8)
    ax.set_title(title or f"{metric_name} against model size")
    return _finish(fig, path)


__all__ = [
    "SAVE_FORMATS",
    "attention_html",
    "figure_to_png_base64",
    "figure_to_svg",
    "plot_attention",
    "plot_learning_curves",
    "plot_quality_vs_parameters",
    "plot_side_by_side",
    "save_attention",
    "save_figure",
]
