"""Pictures for the app page, without gradio: attention heatmaps as HTML, the forecast plot, notes.

The heatmap is a plain HTML table (a coloured cell per query/key pair, the tokens on both axes, the weight in a
tooltip): it is built in about a millisecond, where a matplotlib PNG takes a few hundred on a small CPU, and the
browser draws every script (emoji, Arabic, Hebrew) with its own fonts. The PNG download is
:func:`hf_rnn.report.plots.plot_attention` (``AppService.attention_png``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_AXIS = 120  # tokens shown per axis; longer maps show their last MAX_AXIS (the PNG has all)

_AXIS_NAMES = {
    "self-attention": ("attended token (key)", "token (query)"),
    "encoder-decoder alignment": ("source token (encoder)", "target token (decoder)"),
    "pooling": ("input token", ""),
}

_STYLE = """<style>
.hfr-heat{font-family:ui-sans-serif,system-ui,sans-serif;font-size:12px;color:var(--body-text-color,#222)}
.hfr-heat .hfr-title{font-weight:600;margin:0 0 2px}
.hfr-heat .hfr-sub{opacity:.75;margin:0 0 6px}
.hfr-heat .hfr-scroll{overflow:auto;max-height:560px;max-width:100%}
.hfr-heat table{border-collapse:collapse!important;table-layout:fixed;width:auto!important;margin:0!important;
 border:0!important}
.hfr-heat tr{border:0!important;background:none!important}
.hfr-heat td{padding:0!important;border:0!important;width:var(--c);min-width:var(--c);height:var(--c)!important}
.hfr-heat th{font-weight:400!important;padding:0 4px 0 0!important;border:0!important;white-space:nowrap;
 text-align:right!important;max-width:140px;overflow:hidden;text-overflow:ellipsis;line-height:var(--c)!important;
 height:var(--c);font-size:var(--f)!important;background:none!important}
.hfr-heat th.hfr-col{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left!important;
 padding:4px 0 0!important;max-height:110px;max-width:none;width:var(--c);height:auto;vertical-align:bottom}
.hfr-heat .hfr-bar{display:flex;align-items:center;gap:6px;margin-top:6px}
.hfr-heat .hfr-grad{height:10px;width:160px;border-radius:2px}
.hfr-heat .hfr-axes{opacity:.75;margin-top:2px}
.hfr-note{font-family:ui-sans-serif,system-ui,sans-serif;font-size:13px;padding:14px 16px;border-radius:8px;
 border:1px dashed var(--border-color-primary,#bbb);background:var(--block-background-fill,#fafafa);
 color:var(--body-text-color,#333)}
.hfr-tags{border-collapse:collapse;font-family:ui-sans-serif,system-ui,sans-serif}
.hfr-tags td{padding:2px 8px!important;text-align:center;border:0!important;
 border-left:1px solid var(--border-color-primary,#ddd)!important}
.hfr-tags tr:first-child td{font-size:15px}
.hfr-tags tr:last-child td{font-size:12px;font-weight:600;opacity:.85}
</style>"""


def _viridis(values: np.ndarray) -> list[str]:
    """Hex colours of ``values`` in [0, 1] on matplotlib's viridis (the colormap of hf_rnn.report.plots)."""
    from matplotlib import colormaps

    rgba = colormaps["viridis"](np.clip(values, 0.0, 1.0), bytes=True)
    return [f"#{int(r):02x}{int(g):02x}{int(b):02x}" for r, g, b, _ in rgba.reshape(-1, 4)]


def _gradient() -> str:
    stops = _viridis(np.linspace(0.0, 1.0, 9))
    return "linear-gradient(90deg," + ",".join(stops) + ")"


def note_html(text: str) -> str:
    """A friendly boxed note in place of a heatmap."""
    return f'{_STYLE}<div class="hfr-note">{html.escape(text)}</div>'


def heatmap_html(maps, layer: int | None = None, head: int | None = None, title: str | None = None,
                 vmax: float | None = None) -> str:
    """The ``[query, key]`` map of one layer and head (``None``: the mean) as an HTML table.

    Tokens label the rows (queries) and columns (keys); each cell's tooltip gives the pair and the weight. The
    colour scale runs from 0 to the largest weight shown (or ``vmax``). Maps longer than ``MAX_AXIS`` tokens
    show their last ``MAX_AXIS`` on each axis, with a note.
    """
    weights = np.asarray(maps.select(layer, head), dtype=np.float32)
    queries, keys = list(maps.query_tokens), list(maps.key_tokens)
    notes = []
    if len(queries) > MAX_AXIS or len(keys) > MAX_AXIS:
        q0, k0 = max(0, len(queries) - MAX_AXIS), max(0, len(keys) - MAX_AXIS)
        weights, queries, keys = weights[q0:, k0:], queries[q0:], keys[k0:]
        notes.append(f"showing the last {MAX_AXIS} tokens; the PNG has all of them")
    sink = None
    if vmax is None and sink_column(maps) and weights.shape[1] > 1:
        # LLM heads park much of their weight on the first token (an "attention sink"); scaled by it, the rest
        # of the map is dark. Scale by the other columns and let that one saturate.
        sink = float(weights[:, 0].max())
        vmax = float(weights[:, 1:].max()) if sink > float(weights[:, 1:].max()) else None
        sink = sink if vmax is not None else None
    top = float(weights.max()) if vmax is None else float(vmax)
    top = top if top > 0 else 1.0
    colours = _viridis(weights / top)
    n_q, n_k = weights.shape
    cell = 20 if n_k <= 24 else 14 if n_k <= 48 else 10 if n_k <= 80 else 7
    if n_q == 1 and n_k <= 24:
        cell = 30  # a single row (attention pooling): bigger cells, the weight written in each
    values = n_q == 1 and cell >= 30
    font = 12 if cell >= 14 else 10 if cell >= 10 else 8
    tooltips = n_q * n_k <= 6000
    x_name, y_name = _AXIS_NAMES.get(maps.kind, ("key", "query"))
    esc_q = [html.escape(q) for q in queries]
    esc_k = [html.escape(k) for k in keys]
    # where the prompt ends and generated tokens begin (self-attention with generation): a white line, and the
    # generated tokens' labels in italics
    edge_q = edge_k = None
    if maps.kind == "self-attention" and maps.prompt_length:
        edge_q = maps.prompt_length - (len(maps.query_tokens) - n_q)
        edge_k = maps.prompt_length - (len(maps.key_tokens) - n_k)
        edge_q = edge_q if 0 < edge_q < n_q else None
        edge_k = edge_k if 0 < edge_k < n_k else None
    new = ' style="font-style:italic"'
    rows = ['<tr><th></th>' + "".join(
        f'<th class="hfr-col" title="{k}"{new if edge_k is not None and j >= edge_k else ""}>{k}</th>'
        for j, k in enumerate(esc_k)) + "</tr>"]
    for i in range(n_q):
        cells = []
        for j in range(n_k):
            colour = colours[i * n_k + j]
            tip = f' title="{esc_q[i]} → {esc_k[j]}: {weights[i, j]:.3f}"' if tooltips else ""
            shadow = []
            if i == edge_q:
                shadow.append("inset 0 2px 0 #fff")
            if j == edge_k:
                shadow.append("inset 2px 0 0 #fff")
            line = f";box-shadow:{','.join(shadow)}" if shadow else ""
            text = ""
            if values:  # ".23" fits a 30-pixel cell
                ink = "#000" if weights[i, j] / top > 0.55 else "#fff"
                number = f"{weights[i, j]:.2f}".lstrip("0") or "0"
                text = f'<span style="display:block;text-align:center;font-size:10px;color:{ink}">{number}</span>'
            cells.append(f'<td style="background:{colour}{line}"{tip}>{text}</td>')
        label = new if edge_q is not None and i >= edge_q else ""
        rows.append(f'<tr><th title="{esc_q[i]}"{label}>{esc_q[i]}</th>{"".join(cells)}</tr>')
    if edge_q is not None:
        notes.append("generated tokens in italics, after the white line")
    heading = html.escape(title or maps.model_name)
    detail = html.escape(f"{maps.kind} · {maps.describe(layer, head)}")
    if (maps.meta or {}).get("cropped_from"):
        detail += " · from the input's first token (the prompt template is hidden)"
    if sink is not None:
        notes.append(f"colours scaled without the first column (the attention sink, up to {sink:.2f})")
    if notes:
        detail += " · " + html.escape("; ".join(notes))
    axes = html.escape(f"rows: {y_name or 'the pooled summary'} · columns: {x_name}")
    return (
        f'{_STYLE}<div class="hfr-heat" style="--c:{cell}px;--f:{font}px">'
        f'<div class="hfr-title">{heading}</div><div class="hfr-sub">{detail}</div>'
        f'<div class="hfr-scroll"><table>{"".join(rows)}</table></div>'
        f'<div class="hfr-bar"><span>0</span><span class="hfr-grad" style="background:{_gradient()}"></span>'
        f"<span>{top:.2f}</span><span>attention weight</span></div>"
        f'<div class="hfr-axes">{axes}</div></div>'
    )


def sink_column(maps) -> bool:
    """Whether the map's first column is the sequence's first token under self-attention (the attention sink)."""
    return maps.kind == "self-attention" and not (maps.meta or {}).get("cropped_from")


def sink_vmax(maps, layer: int | None = None, head: int | None = None) -> float | None:
    """The colour-scale top that leaves the attention sink's column out (``None`` when there is none)."""
    weights = np.asarray(maps.select(layer, head))
    if not sink_column(maps) or weights.shape[1] < 2:
        return None
    rest = float(weights[:, 1:].max())
    return rest if float(weights[:, 0].max()) > rest > 0 else None


def tags_html(pairs: Sequence[tuple[str, str]]) -> str:
    """Words with their tags underneath, as a two-row table."""
    if not pairs:
        return ""
    words = "".join(f"<td>{html.escape(w)}</td>" for w, _ in pairs)
    tags = "".join(f"<td>{html.escape(t)}</td>" for _, t in pairs)
    return f'{_STYLE}<table class="hfr-tags"><tr>{words}</tr><tr>{tags}</tr></table>'


def forecast_figure(series: dict[str, Any] | None, forecasts: Sequence[tuple[str, Sequence[float] | None]]):
    """History, truth and each model's forecast of one test window (a matplotlib Figure, no pyplot)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    if not series:
        ax.text(0.5, 0.5, "no window", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    t, start = series["t"], series["history_start"]
    history, truth = series["history"], series["truth"]
    xs = list(range(start, t))
    ax.plot(xs, history, color="0.35", linewidth=1.4, label="history")
    context = series.get("context_length") or 0
    if context:
        ax.axvspan(t - context - 0.5, t - 0.5, color="0.9", zorder=0, label=f"window ({context} values)")
    future_x = list(range(t, t + len(truth)))
    last = ([t - 1], [history[-1]]) if history else ([], [])  # join the forecast lines to the history
    ax.plot(last[0] + future_x, last[1] + list(truth), color="black", linewidth=1.6, marker="o", markersize=5,
            label="truth")
    styles = [("tab:blue", "s"), ("tab:orange", "D")]
    for (name, values), (colour, marker) in zip(forecasts, styles):
        if not values:
            continue
        ax.plot(last[0] + future_x[: len(values)], last[1] + list(values), color=colour, linestyle="--",
                marker=marker, markersize=6, label=name)
    ax.set_xlabel("time step")
    ax.set_ylabel(series.get("series", "value"))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.set_title(f"{series.get('series', 'series')}: test window {series.get('index', 0)} (forecast of step {t})",
                 fontsize=10)
    return fig


__all__ = ["MAX_AXIS", "forecast_figure", "heatmap_html", "note_html", "sink_column", "sink_vmax", "tags_html"]
