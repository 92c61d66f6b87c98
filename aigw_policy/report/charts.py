"""Charts as inline SVG text: nothing to load when the page is viewed, every label escaped.

Each mark carries its value in ``data-value`` and a ``<title>`` (the browser's tooltip), so a
reader can hover and a test can read the drawing back from the DOM.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["hbars", "stacked_columns"]

_INPUT, _OUTPUT, _UNKNOWN = "#4c78a8", "#f58518", "url(#unknown)"
_PATTERN = ('<defs><pattern id="unknown" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eee"/>'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="3"/></pattern></defs>')


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() or abs(x) >= 100 else f"{x:,.4f}".rstrip("0").rstrip(".")


def hbars(items: Sequence[tuple[str, float | None, str]], *, name: str, width: int = 640) -> str:
    """Horizontal bars: (label, value or None for unknown, the value as shown). An unknown
    value is a hatched stub marked "unknown", never a zero-length bar."""
    row, label_w, pad = 24, 230, 8
    top = max((v for _, v, _ in items if v is not None), default=0.0) or 1.0
    span = width - label_w - 110
    height = row * max(1, len(items)) + pad
    parts = [f'<svg class="chart hbars" data-chart="{escape(name)}" role="img" aria-label="{escape(name)}" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             _PATTERN]
    for i, (label, value, shown) in enumerate(items):
        y = pad // 2 + i * row
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" class="label">{escape(short)}</text>')
        if value is None:
            w, fill, cls = 40.0, _UNKNOWN, "bar unknown"
        else:
            w, fill, cls = max(1.0, span * value / top) if value > 0 else 0.0, _INPUT, "bar"
        parts.append(f'<rect class="{cls}" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
                     f'fill="{fill}" data-label="{escape(label)}" data-value="{"" if value is None else value}">'
                     f'<title>{escape(label)}: {escape(shown)}</title></rect>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" class="value">{escape(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def stacked_columns(items: Sequence[tuple[str, float, float]], *, name: str, width: int = 720,
                    height: int = 220) -> str:
    """Columns per day: input (bottom) and output (top) tokens, with a legend."""
    left, bottom, top_pad = 60, 28, 24
    n = max(1, len(items))
    top = max((a + b for _, a, b in items), default=0.0) or 1.0
    plot_h = height - bottom - top_pad
    step = (width - left - 10) / n
    bar_w = max(2.0, min(40.0, step * 0.7))
    parts = [f'<svg class="chart columns" data-chart="{escape(name)}" role="img" aria-label="{escape(name)}" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" stroke="#888"/>',
             f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end" class="axis">{_num(top)}</text>',
             f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end" class="axis">0</text>',
             f'<rect x="{left}" y="4" width="10" height="10" fill="{_INPUT}"/>'
             f'<text x="{left + 14}" y="13" class="axis">input tokens</text>',
             f'<rect x="{left + 110}" y="4" width="10" height="10" fill="{_OUTPUT}"/>'
             f'<text x="{left + 124}" y="13" class="axis">output tokens</text>']
    every = max(1, n // 10)
    for i, (label, a, b) in enumerate(items):
        x = left + i * step + (step - bar_w) / 2
        ha, hb = plot_h * a / top, plot_h * b / top
        base = height - bottom
        parts.append(f'<rect class="bar input" x="{x:.1f}" y="{base - ha:.1f}" width="{bar_w:.1f}" height="{ha:.1f}" '
                     f'fill="{_INPUT}" data-label="{escape(label)}" data-value="{a:g}">'
                     f'<title>{escape(label)}: {_num(a)} input tokens</title></rect>')
        parts.append(f'<rect class="bar output" x="{x:.1f}" y="{base - ha - hb:.1f}" width="{bar_w:.1f}" '
                     f'height="{hb:.1f}" fill="{_OUTPUT}" data-label="{escape(label)}" data-value="{b:g}">'
                     f'<title>{escape(label)}: {_num(b)} output tokens</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - 10}" text-anchor="middle" class="axis">'
                         f'{escape(label[5:] if len(label) == 10 else label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
