"""The explorer's figures: projected classes (dimmed and tinted by the search) and their drift with shots.

Plotly only, no Streamlit: `pages/explorer.py` decides what is shown, these build how it looks.
"""

from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

from paramembed import projection as P
from paramembed.app.fonts import FIGURE_FONT
from paramembed.app.messages import say
from paramembed.embeddings import ClassEmbeddings

DIM = 0.15  # opacity of points that do not match the search
WEBGL_ABOVE = 1000  # points; more are drawn with WebGL, as plotly.express does


def hex_rgb(colour: str) -> tuple[int, int, int] | None:
    """"#rrggbb" -> (r, g, b); None for any other colour form (the thumbnail is then left untinted)."""
    if isinstance(colour, str) and colour.startswith("#") and len(colour) == 7:
        return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return None


def axis_titles(vectors: np.ndarray, method: str, dims: int) -> tuple[str, ...]:
    """`paramembed.projection.axis_titles` in the session's language: "PC1 (23% of variance)"."""
    if method == "pca":
        return tuple(say("pca_axis", i=i + 1, share=f"{share:.0%}") for i, share in enumerate(P.explained_variance(vectors, dims)))
    return tuple(say("tsne_axis", method=P.PROJECTION_LABELS.get(method, method), i=i + 1) for i in range(dims))


def class_scatter(emb: ClassEmbeddings, rows: np.ndarray, xy: np.ndarray, colour: str, matches: np.ndarray,
                  thumbnails: bool, group_word: str = "alphabet", group_names: dict | None = None,
                  axes: tuple[str, ...] | None = None) -> go.Figure:
    """One point per row of `emb` at `xy` (len(rows), 2 or 3), coloured by the column `colour`.

    Points outside `matches` are dimmed (2D) and drawn smaller; with `thumbnails` (2D only) each
    point carries its class's first support drawing, tinted with the point's colour. Every point's
    `customdata` is its row, which is what a selection event returns. `group_word` names the groups
    for people ("alphabet", or "group" for photos), `group_names` renames groups (an uploaded
    archive's stored name -> its file name), `axes` titles the axes (PCA: the variance each explains).
    """
    dims = xy.shape[1]
    bright = matches if matches.any() else np.ones(len(rows), dtype=bool)
    group_names = group_names or {}
    groups = np.array([group_names.get(str(a), str(a)) for a in emb.alphabets[rows]])
    names, shots = emb.names[rows], emb.shots[rows].astype(str)
    by = {"alphabet": groups, "class": names, "shots": shots}[colour]
    # Graph objects, not plotly.express: the same traces (one per colour, in order of first appearance,
    # the qualitative palette) in a third of the time (~15 against ~45 ms for 40 points, thumbnails
    # aside), paid on every rerun of the explorer's fragment. Explicit colours: Streamlit's default
    # template holds placeholders that only its theme resolves, and the drawings are tinted with them.
    palette = px.colors.qualitative.Plotly
    hover = f"<b>%{{hovertext}}</b><br><br>{group_word}=%{{customdata[1]}}<br>{say('colour_shots')}=%{{customdata[2]}}<extra></extra>"
    trace_type = go.Scatter3d if dims == 3 else go.Scattergl if len(rows) > WEBGL_ABOVE else go.Scatter
    point_colour = np.empty(len(rows), dtype=object)
    traces = []
    for j, value in enumerate(dict.fromkeys(by)):
        at = np.flatnonzero(by == value)
        point_colour[at] = palette[j % len(palette)]
        marker = dict(color=palette[j % len(palette)], size=np.where(matches[at], *((11, 7) if dims == 2 else (9, 6))).tolist())
        if dims == 2:  # 3D markers take one opacity per trace, so there the matches stand out by size alone
            marker["opacity"] = np.where(bright[at], 1.0, DIM).tolist()
        coords = dict(x=xy[at, 0], y=xy[at, 1], **({"z": xy[at, 2]} if dims == 3 else {}))
        # customdata[0] is the row: what a selection event returns.
        traces.append(trace_type(**coords, mode="markers", name=str(value), legendgroup=str(value), marker=marker,
                                 hovertext=names[at], customdata=[[int(rows[i]), groups[i], shots[i]] for i in at],
                                 hovertemplate=hover))
    titles = {a: {"title": {"text": t}} for a, t in zip(("x", "y", "z"), axes or ("x", "y", "z"))}
    # No dragmode here: with lasso or box as the starting tool, Streamlit makes clicks plain events
    # that select nothing. Left unset, it starts in pan mode with click-to-select on.
    layout = dict(template="plotly_white", height=620, margin=dict(l=0, r=0, t=30, b=0),
                  font_family=FIGURE_FONT,  # drawn without Streamlit's theme: name the Chinese font here
                  showlegend=colour != "class" and len(set(by)) <= 40,
                  legend_title_text=group_word if colour == "alphabet" else say(f"colour_{colour}"))
    if dims == 3:
        layout["scene"] = {f"{a}axis": title for a, title in titles.items()}
    else:
        layout.update(xaxis=titles["x"], yaxis=titles["y"])
    if thumbnails and dims == 2:
        uris = [P.thumbnail_uri(emb.drawing(int(emb.class_index[r]), 0), hex_rgb(point_colour[i])) for i, r in enumerate(rows)]
        layout["images"] = P.thumbnail_layout(xy, uris, size=0.045, opacity=np.where(bright, 1.0, DIM))
    return go.Figure(traces, layout)


def drift_figure(emb: ClassEmbeddings, drift: dict[int, np.ndarray], space: str, selected: list[int]) -> go.Figure:
    """The 10-90% band and median of every class's drift over shot counts, plus one line per selected row."""
    ks = list(drift)
    q = np.array([np.percentile(drift[k], [10, 50, 90]) for k in ks])  # (shot counts, 3)
    fig = go.Figure([
        go.Scatter(x=ks + ks[::-1], y=list(q[:, 2]) + list(q[::-1, 0]), fill="toself", line_width=0,
                   fillcolor="rgba(99,110,250,0.2)", name=say("drift_band"), hoverinfo="skip"),
        go.Scatter(x=ks, y=q[:, 1], mode="lines+markers", name=say("drift_median")),
    ])
    for r in selected:
        ci = int(emb.class_index[r])
        fig.add_trace(go.Scatter(x=ks, y=[drift[k][ci] for k in ks], mode="lines+markers", name=str(emb.names[r])))
    fig.update_layout(xaxis_title=say("drift_x"), yaxis_title=say(f"drift_y_{space}", k=ks[-1]), height=340,
                      xaxis_type="log", xaxis_tickvals=ks, margin=dict(t=20))
    return fig


def agreement_box(agreement: np.ndarray, shots: np.ndarray) -> go.Figure:
    """One box of the weights-vs-prototypes cosines (N,) per shot count (N,), outliers drawn as points."""
    return go.Figure(go.Box(x=shots.astype(str), y=agreement, boxpoints="outliers", name=""),
                     layout=dict(height=320, xaxis_title=say("colour_shots"), yaxis_title=say("agreement_axis"),
                                 xaxis=dict(type="category", categoryorder="array",  # 1, 2, 5, 10: not "10" before "2"
                                            categoryarray=[str(k) for k in sorted(set(shots.tolist()))])))


def warm_up() -> None:
    """Draw one tiny figure of each kind the explorer shows, and throw them away: plotly loads each
    property's validators on first use: the first scatter took 0.6-1.5 s here, the next 0.06 s
    (`paramembed.app.warm`)."""
    rng = np.random.default_rng(0)
    n, side = 4, 8
    emb = ClassEmbeddings(rng.normal(size=(n, 3)), rng.normal(size=(n, 3)), rng.normal(size=(n, 3)),
                          np.array([f"a{i % 2}/c{i}" for i in range(n)]), np.array([f"a{i % 2}" for i in range(n)]),
                          np.ones(n, dtype=int), np.arange(n), np.zeros((n, 1, 1, side, side), np.uint8), "warm-up")
    rows = np.arange(n)
    xy = rng.normal(size=(n, 2)).astype(np.float32)
    class_scatter(emb, rows, xy, "alphabet", np.zeros(n, dtype=bool), thumbnails=True, axes=("x", "y")).to_json()
    drift_figure(emb, {1: rng.random(n), 2: rng.random(n)}, "weights", [0]).to_json()
    agreement_box(rng.random(n), np.ones(n, dtype=int)).to_json()
