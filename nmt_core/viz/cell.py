"""The recurrent cell drawn as students first meet it, with the model's own numbers on every part.

Why SVG by hand and not a chart: the LSTM diagram of the lecture (and of Olah's "Understanding LSTM Networks") is
a circuit, not a plot: a cell line across the top with a multiply and an add, four gates underneath fed by
[h_{t-1}; x_t], and h_t leaving on the right. Each gate box is shaded by its value (dark = open), each wire
labelled with the number it carries, and the equations underneath repeat the arithmetic with the same numbers,
so a student can check c_t = f·c_{t-1} + i·g with a calculator. ``cell_player`` wraps one SVG per step in a
small page with buttons, a slider and play, which steps through time in the browser with no server round trip.

The numbers come from ``inspection.cell.CellStep``: the replay's values, never recomputed here.
"""

from __future__ import annotations

import html
import json

from ..inspection.cell import CellStep
from .common import OKABE_ITO

WIDTH, DIAGRAM_HEIGHT, LINE_HEIGHT = 760, 410, 22
OPEN, NEGATIVE, WIRE, INK = OKABE_ITO[0], OKABE_ITO[3], "#555555", "#222222"  # blue, vermillion


class _Svg:
    """The few SVG primitives the diagrams need, collected as text."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def wire(self, *points: tuple[float, float], width: float = 2.0, arrow: bool = True) -> None:
        path = " ".join(f"{x:.0f},{y:.0f}" for x, y in points)
        end = ' marker-end="url(#arrow)"' if arrow else ""
        self.parts.append(f'<polyline points="{path}" fill="none" stroke="{WIRE}" stroke-width="{width:.1f}"{end}/>')

    def node(self, x: float, y: float, symbol: str) -> None:
        self.parts.append(f'<circle cx="{x}" cy="{y}" r="15" fill="white" stroke="{WIRE}" stroke-width="2"/>')
        self.text(x, y + 6, symbol, size=18, weight="bold")

    def gate(self, x: float, y: float, name: str, squash: str, value: float) -> None:
        """A box shaded by how open it is: sigmoid gates by their value, tanh values by |value| and sign."""
        colour = OPEN if (squash == "σ" or value >= 0) else NEGATIVE
        share = value if squash == "σ" else abs(value)
        ink = "white" if share > 0.55 else INK
        self.parts.append(f'<rect x="{x - 42}" y="{y - 20}" width="84" height="40" rx="6" fill="{colour}" '
                          f'fill-opacity="{0.08 + 0.92 * share:.3f}" stroke="{colour}" stroke-width="2"/>')
        self.text(x, y - 3, f"{squash} · {name}", size=13, colour=ink)
        self.text(x, y + 14, f"{name} = {value:.3f}", size=13, colour=ink, weight="bold")

    def text(self, x: float, y: float, content: str, *, size: int = 13, anchor: str = "middle",
             colour: str = INK, weight: str = "normal", mono: bool = False) -> None:
        family = "ui-monospace, monospace" if mono else "system-ui, sans-serif"
        self.parts.append(f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" fill="{colour}" '
                          f'font-family="{family}" font-weight="{weight}">{html.escape(content)}</text>')

    def render(self, height: float, title: str) -> str:
        marker = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="11" '
                  'markerHeight="11" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
                  f'<path d="M0,0 L10,5 L0,10 z" fill="{WIRE}"/></marker></defs>')
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" '
                f'height="{height:.0f}" role="img"><title>{html.escape(title)}</title>'
                f'<rect width="100%" height="100%" fill="white"/>{marker}{"".join(self.parts)}</svg>')


def _flow(value: float) -> float:
    """Wire width for a state value: thicker carries more (capped so a large c stays readable)."""
    return 1.5 + 3.0 * min(abs(value), 2.0)


def _inputs(svg: _Svg, step: CellStep, taps: list[float]) -> None:
    """h_{t-1} along the bottom bus, x_t joining it from below, and a tap up into each gate."""
    svg.text(20, 318, f"h(t-1) = {step.previous['h']:.3f}", anchor="start")
    svg.wire((20, 300), (max(taps), 300), width=_flow(step.previous["h"]), arrow=False)
    x_label = f"x(t): “{step.reads}”" + ("" if step.layer == 0 else " (layer below's h_t)")
    svg.text(130, 378, x_label)
    svg.wire((130, 362), (130, 300), arrow=False)
    for x in taps:
        svg.wire((x, 300), (x, 252))


def _top_rail(svg: _Svg, carried: str, before: float, kept: str, kept_value: float, after: float) -> None:
    """The cell's conveyor belt along the top: the carried state comes in, is scaled at × (by f for the LSTM's
    c, by z for the GRU's h), gets the new part added at + and leaves as the new state."""
    svg.text(20, 68, f"{carried}(t-1) = {before:.3f}", anchor="start")
    svg.wire((20, 80), (205, 80), width=_flow(before))
    svg.node(220, 80, "×")
    svg.wire((235, 80), (385, 80), width=_flow(kept_value))
    svg.text(310, 68, f"{kept} = {kept_value:.3f}")
    svg.node(400, 80, "+")
    svg.wire((415, 80), (740, 80), width=_flow(after))
    svg.text(740, 68, f"{carried}(t) = {after:.3f}", anchor="end", weight="bold")


def _lstm(svg: _Svg, s: CellStep) -> None:
    v, p = s.values, s.products
    _top_rail(svg, "c", s.previous["c"], "f·c(t-1)", p["f*c_prev"], v["c"])
    for x, name, squash in ((220, "f", "σ"), (310, "i", "σ"), (400, "g", "tanh"), (500, "o", "σ")):
        svg.gate(x, 230, name, squash, v[name])
    svg.wire((220, 210), (220, 96))
    svg.wire((310, 210), (310, 150), (385, 150))
    svg.wire((400, 210), (400, 166))
    svg.node(400, 150, "×")
    svg.text(420, 136, f"i·g = {p['i*g']:.3f}", anchor="start")
    svg.wire((400, 135), (400, 96))
    svg.wire((620, 80), (620, 130), arrow=True)
    svg.parts.append(f'<ellipse cx="620" cy="150" rx="30" ry="16" fill="white" stroke="{WIRE}" stroke-width="2"/>')
    svg.text(620, 155, "tanh", size=12)
    svg.text(656, 155, f"= {p['tanh_c']:.3f}", anchor="start")
    svg.wire((620, 166), (620, 215))
    svg.node(620, 230, "×")
    svg.wire((542, 230), (605, 230))
    svg.wire((635, 230), (740, 230), width=_flow(v["h"]))
    svg.text(740, 218, f"h(t) = {v['h']:.3f}", anchor="end", weight="bold")
    _inputs(svg, s, [220, 310, 400, 500])


def _gru(svg: _Svg, s: CellStep) -> None:
    v, p = s.values, s.products
    _top_rail(svg, "h", s.previous["h"], "z·h(t-1)", p["z*h_prev"], v["h"])
    for x, name, squash in ((220, "z", "σ"), (400, "n", "tanh"), (560, "r", "σ")):
        svg.gate(x, 230, name, squash, v[name])
    svg.wire((220, 210), (220, 96))
    svg.wire((220, 180), (300, 180), (300, 166))
    svg.node(300, 150, "1−")
    svg.wire((315, 150), (385, 150))
    svg.wire((400, 210), (400, 166))
    svg.node(400, 150, "×")
    svg.text(420, 136, f"(1−z)·n = {p['(1-z)*n']:.3f}", anchor="start")
    svg.wire((400, 135), (400, 96))
    svg.wire((518, 230), (444, 230))
    svg.text(481, 218, "r gates U_n h(t-1)", size=11)
    _inputs(svg, s, [220, 400, 560])


def _rnn(svg: _Svg, s: CellStep) -> None:
    svg.gate(400, 230, "h", "tanh", s.values["h"])
    svg.wire((442, 230), (740, 230), width=_flow(s.values["h"]))
    svg.text(740, 218, f"h(t) = {s.values['h']:.3f}", anchor="end", weight="bold")
    svg.text(400, 150, "no gates: the same W_hh multiplies the state at every step", size=12)
    _inputs(svg, s, [400])


def equations(step: CellStep) -> list[str]:
    """The cell's equations with this step's numbers substituted, in the order the replay computes them."""
    v, p = step.values, step.products
    affine = "W_{q} [h(t-1); x(t)] + b_{q}"
    if step.cell == "lstm":
        return [f"{q}(t) = {'tanh' if q == 'g' else 'σ'}({affine.format(q=q)}) = {v[q]:.4f}" for q in "figo"] + [
            f"c(t) = f·c(t-1) + i·g = {v['f']:.4f} × {step.previous['c']:.4f} + {v['i']:.4f} × {v['g']:.4f}"
            f" = {p['f*c_prev']:.4f} + {p['i*g']:.4f} = {v['c']:.4f}",
            f"h(t) = o·tanh(c(t)) = {v['o']:.4f} × {p['tanh_c']:.4f} = {v['h']:.4f}"]
    if step.cell == "gru":
        return [f"r(t) = σ(W_r x(t) + U_r h(t-1) + b_r) = {v['r']:.4f}",
                f"z(t) = σ(W_z x(t) + U_z h(t-1) + b_z) = {v['z']:.4f}",
                f"n(t) = tanh(W_n x(t) + b_in + r(t)·(U_n h(t-1) + b_hn)) = {v['n']:.4f}",
                f"h(t) = (1 − z)·n + z·h(t-1) = {1 - v['z']:.4f} × {v['n']:.4f} + {v['z']:.4f} × "
                f"{step.previous['h']:.4f} = {v['h']:.4f}"]
    return [f"h(t) = tanh(W_xh x(t) + W_hh h(t-1) + b_h) = {v['h']:.4f}   (h(t-1) = {step.previous['h']:.4f})"]


def title(step: CellStep) -> str:
    where = f"{step.side} layer {step.layer}" + (" (backward)" if step.direction else "")
    # The token's position in the sentence, from 1 as the player counts; a backward direction plays them last first.
    return f"{step.cell.upper()} · {where} · position {step.t + 1} “{step.label}” · unit {step.unit}"


def cell_svg(step: CellStep) -> str:
    """One step of one unit as a standalone SVG: the diagram, then its equations with the numbers."""
    svg = _Svg()
    svg.text(20, 26, title(step), size=15, anchor="start", weight="bold")
    {"lstm": _lstm, "gru": _gru, "rnn": _rnn}[step.cell](svg, step)
    lines = equations(step)
    for k, line in enumerate(lines):
        svg.text(20, DIAGRAM_HEIGHT + k * LINE_HEIGHT, line, size=13, anchor="start", mono=True)
    return svg.render(DIAGRAM_HEIGHT + len(lines) * LINE_HEIGHT, title(step))


def player_height(steps: list[CellStep]) -> int:
    """Pixels the player needs: the tallest frame plus its controls."""
    return DIAGRAM_HEIGHT + max(len(equations(s)) for s in steps) * LINE_HEIGHT + 70


def cell_player(steps: list[CellStep], start: int = 0) -> str:
    """A self-contained HTML page that steps through ``steps`` (buttons, slider, play) in the browser."""
    if not steps:
        raise ValueError("the player needs at least one step")
    frames = "".join(f'<div class="frame" data-label="{html.escape(s.label)}" hidden>{cell_svg(s)}</div>'
                     for s in steps)
    last = len(steps) - 1
    return _PLAYER.replace("__FRAMES__", frames).replace("__LAST__", str(last)).replace(
        "__START__", json.dumps(max(0, min(start, last))))


_PLAYER = """<!doctype html><html><head><meta charset="utf-8"><style>
body{font-family:system-ui,sans-serif;margin:0} .bar{display:flex;gap:8px;align-items:center;margin:6px 0}
button{font-size:15px;padding:2px 10px} input[type=range]{flex:1} svg{max-width:100%;height:auto}
</style></head><body>
<div class="bar"><button id="prev" title="previous step">◀</button><button id="play" title="play">▶ play</button>
<button id="next" title="next step">▶</button><input id="slider" type="range" min="0" max="__LAST__" value="0">
<span id="where"></span></div>__FRAMES__
<script>
const frames=[...document.querySelectorAll('.frame')], slider=document.getElementById('slider');
let k=__START__, timer=null;
function show(n){k=Math.max(0,Math.min(frames.length-1,n));frames.forEach((f,j)=>f.hidden=j!==k);
 slider.value=k;document.getElementById('where').textContent=`step ${k+1} of ${frames.length}: `+
 `“${frames[k].dataset.label}”`;}
function stop(){clearInterval(timer);timer=null;document.getElementById('play').textContent='▶ play';}
document.getElementById('prev').onclick=()=>{stop();show(k-1)};
document.getElementById('next').onclick=()=>{stop();show(k+1)};
slider.oninput=()=>{stop();show(+slider.value)};
document.getElementById('play').onclick=()=>{if(timer){stop();return}
 if(k===frames.length-1)show(0);document.getElementById('play').textContent='❚❚ pause';
 timer=setInterval(()=>{if(k>=frames.length-1){stop();return}show(k+1)},900);};
document.addEventListener('keydown',e=>{if(e.key==='ArrowLeft')show(k-1);if(e.key==='ArrowRight')show(k+1)});
show(k);
</script></body></html>"""
