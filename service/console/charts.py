"""Small server-rendered SVG charts for the console (no chart library, no CDN).

Every label is HTML-escaped here, so the returned markup can be placed in a page as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: a value with an optional interval ``[low, high]``; ``note`` is printed after it."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None
    note: str = ""


def _percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def bar_chart(
    bars: Sequence[Bar], *, title: str, width: int = 560, row: int = 24, signed: bool = False
) -> str:
    """A horizontal bar chart of proportions (shown as percent) with interval whiskers.

    With ``signed`` the axis is centred on zero (for uplift, which can be negative).
    """
    label_w, note_w, pad = 190, 110, 8
    plot_w = width - label_w - note_w - 2 * pad
    height = 34 + row * max(len(bars), 1) + 8
    values = [abs(v) for b in bars for v in (b.value, b.low, b.high) if v is not None]
    top = max(values, default=0.0) or 0.01
    top *= 1.05

    def x(value: float) -> float:
        if signed:
            return label_w + plot_w / 2 + (value / top) * (plot_w / 2)
        return label_w + max(0.0, value) / top * plot_w

    zero = x(0.0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" font-family="system-ui, sans-serif" font-size="12">',
        f'<text x="{pad}" y="18" font-weight="600" font-size="13">{escape(title)}</text>',
        f'<line x1="{zero:.1f}" y1="26" x2="{zero:.1f}" y2="{height - 6}" stroke="#9aa3ad"/>',
    ]
    if not bars:
        out.append(f'<text x="{label_w}" y="46" fill="#6b7380">no data yet</text>')
    for i, bar in enumerate(bars):
        y = 30 + i * row
        left, right = sorted((zero, x(bar.value)))
        colour = "#b3261e" if signed and bar.value < 0 else "#0f6b5c"
        label = bar.label if len(bar.label) <= 28 else bar.label[:27] + "…"
        out.append(
            f'<text x="{label_w - 6}" y="{y + row * 0.62:.1f}" text-anchor="end">'
            f"<title>{escape(bar.label)}</title>{escape(label)}</text>"
        )
        out.append(
            f'<rect x="{left:.1f}" y="{y + 4}" width="{max(right - left, 1):.1f}" '
            f'height="{row - 9}" fill="{colour}" opacity="0.8"/>'
        )
        if bar.low is not None and bar.high is not None:
            lo, hi, mid = x(bar.low), x(bar.high), y + row / 2
            out.append(
                f'<path d="M{lo:.1f} {mid - 5:.1f}v10M{lo:.1f} {mid:.1f}H{hi:.1f}'
                f'M{hi:.1f} {mid - 5:.1f}v10" stroke="#1d2430" fill="none"/>'
            )
        text = _percent(bar.value) + (f" · {bar.note}" if bar.note else "")
        out.append(
            f'<text x="{label_w + plot_w + pad}" y="{y + row * 0.62:.1f}" fill="#3b4450">'
            f"{escape(text)}</text>"
        )
    out.append("</svg>")
    return "".join(out)
