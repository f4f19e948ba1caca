"""TCAV figures: one bar per concept (its score, its spread over the random sets, whether it
passed the test against random concepts), and the scores over training.

The results are ``dlviz.explain.concepts.ConceptResult``s; a score is the fraction of the
class's inputs whose class score rises along the concept's direction, so 0.5 is "no
preference" and the random-vs-random band shows what chance looks like.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dlviz.plots.style import BLUE, GRID, MUTED, base_layout, line_colour, px

HEIGHT = 340
PALE = "#c9ccd1"          # a concept that did not pass the test


def _null_band(random_scores: Sequence[float]) -> tuple[float, float]:
    r = np.asarray(random_scores, dtype=np.float64)
    if len(r) == 0:
        return 0.5, 0.0
    return float(r.mean()), float(r.std())


def tcav_bars(result, class_name: str) -> go.Figure:
    """Bars of the mean TCAV score per concept with the std over random sets; significant
    concepts in colour with their p-value, the others pale; the random-vs-random mean
    +- std as a grey band."""
    fig = go.Figure()
    base_layout(fig, height=HEIGHT, uirevision="tcav", legend_top=False,
                margin=dict(l=56, r=16, t=28, b=64))
    names = [s.name for s in result.scores]
    colours = [BLUE if s.significant else PALE for s in result.scores]
    text = [f"p={s.p_value:.2g}" + (" ✓" if s.significant else "") for s in result.scores]
    fig.add_trace(go.Bar(
        x=names, y=[s.score for s in result.scores], marker_color=colours,
        error_y=dict(type="data", array=[s.spread for s in result.scores], color=MUTED, thickness=1.2),
        text=text, textposition="outside", textfont_size=px(11), cliponaxis=False,
        customdata=np.array([[s.p_value, s.cav_accuracy, s.spread] for s in result.scores]),
        hovertemplate="%{x}: TCAV score %{y:.2f} ± %{customdata[2]:.2f}<br>p = %{customdata[0]:.3g}"
                      "<br>concept classifier accuracy %{customdata[1]:.0%}<extra></extra>"))
    mean, std = _null_band(result.random_scores)
    fig.add_hrect(y0=mean - std, y1=mean + std, fillcolor=GRID, line_width=0, layer="below")
    fig.add_hline(y=mean, line=dict(color=MUTED, dash="dot", width=1),
                  annotation_text="random concepts", annotation_font_size=px(11),
                  annotation_position="top left")
    fig.update_layout(showlegend=False, bargap=0.35,
                      xaxis=dict(title_text=f"concept (class {class_name}, layer {result.layer})"),
                      yaxis=dict(title_text="TCAV score", range=[0, 1.12], tickformat=".0%",
                                 tickvals=[0, 0.25, 0.5, 0.75, 1.0]))
    return fig


def tcav_over_training(series: Sequence[tuple[int, object]], class_name: str) -> go.Figure:
    """One line per concept: its TCAV score at each checkpoint ``(step, ConceptResult)``;
    a filled marker where the concept passed the test there, a hollow one where not."""
    fig = go.Figure()
    base_layout(fig, height=HEIGHT, uirevision="tcav_time")
    steps = [s for s, _ in series]
    names = [c.name for c in series[0][1].scores] if series else []
    for i, name in enumerate(names):
        scores = [next(c for c in r.scores if c.name == name) for _, r in series]
        fig.add_trace(go.Scatter(
            x=steps, y=[c.score for c in scores], mode="lines+markers", name=name,
            line=dict(color=line_colour(i), width=2),
            marker=dict(size=9, color=[line_colour(i) if c.significant else "white" for c in scores],
                        line=dict(color=line_colour(i), width=2)),
            customdata=[c.p_value for c in scores],
            hovertemplate=f"{name}, step %{{x:,}}: %{{y:.2f}} (p = %{{customdata:.2g}})<extra></extra>"))
    nulls = [_null_band(r.random_scores)[0] for _, r in series]
    fig.add_trace(go.Scatter(x=steps, y=nulls, mode="lines", name="random concepts",
                             line=dict(color=MUTED, dash="dot", width=1), hoverinfo="skip"))
    fig.update_layout(xaxis=dict(title_text="training step"),
                      yaxis=dict(title_text=f"TCAV score for {class_name}", range=[0, 1.02],
                                 tickformat=".0%"))
    return fig


def tcav_bars_image(result, class_name: str, width: int = 560, height: int = 300):
    """The bars of ``tcav_bars`` as a PIL image (the CLI's PNG; no browser needed): a bar
    per concept, blue where it passed the test, pale where not, its p-value above it, and
    the random concepts' mean as a dotted line."""
    from PIL import Image, ImageDraw

    from dlviz.plots.pil_draw import INK, MUTED as MUTED_RGB, WHITE, fit_text, pil_font

    img = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(img)
    font, small = pil_font(px(12)), pil_font(px(10))
    left, right, top, bottom = px(44), 12, px(30), px(40)
    plot_h = height - top - bottom
    draw.text((left, 6), fit_text(pil_font(px(13)), f"TCAV scores for {class_name} at {result.layer}",
                                  width - left - right), fill=INK, font=pil_font(px(13)))

    def y_of(v: float) -> float:
        return top + plot_h * (1 - max(0.0, min(1.0, v)))
    for v in (0.0, 0.5, 1.0):
        draw.line([(left, y_of(v)), (width - right, y_of(v))], fill=(236, 238, 241))
        draw.text((left - 6, y_of(v)), f"{v:.0%}", fill=MUTED_RGB, font=small, anchor="rm")
    n = max(1, len(result.scores))
    slot = (width - left - right) / n
    for i, s in enumerate(result.scores):
        x0, x1 = left + i * slot + slot * 0.18, left + (i + 1) * slot - slot * 0.18
        colour = (8, 119, 189) if s.significant else (201, 204, 209)
        draw.rectangle([x0, y_of(s.score), x1, y_of(0.0)], fill=colour)
        mid = (x0 + x1) / 2
        draw.line([(mid, y_of(s.score - s.spread)), (mid, y_of(s.score + s.spread))], fill=MUTED_RGB, width=1)
        draw.text((mid, y_of(s.score + s.spread) - 3), f"p={s.p_value:.2g}", fill=INK if s.significant else
                  MUTED_RGB, font=small, anchor="mb")
        draw.text((mid, top + plot_h + 4), fit_text(font, s.name, slot), fill=INK, font=font, anchor="ma")
    mean, _ = _null_band(result.random_scores)
    x = left
    while x < width - right:                          # dotted: the random concepts' mean
        draw.line([(x, y_of(mean)), (min(x + 4, width - right), y_of(mean))], fill=MUTED_RGB)
        x += 8
    draw.text((width - right, y_of(mean) - 4), "random concepts", fill=MUTED_RGB, font=small, anchor="rd")
    return img
