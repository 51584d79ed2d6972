"""Small server-rendered SVG charts: no chart script to load, prints as it looks."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 240, 36, 48, 16


def _scale(values: list[int]) -> float:
    top = max(values, default=0) or 1
    return (HEIGHT - PAD_BOTTOM - PAD_TOP) / top


def bar_chart(items: list[tuple[str, int]], *, title: str) -> Markup:
    """Vertical bars with the value above each and the label below."""
    scale = _scale([value for _label, value in items])
    slot = (WIDTH - PAD_LEFT) / max(len(items), 1)
    parts = []
    for index, (label, value) in enumerate(items):
        height = value * scale
        x = PAD_LEFT + index * slot + slot * 0.2
        y = HEIGHT - PAD_BOTTOM - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" '
            f'height="{height:.1f}"><title>{escape(label)}: {value}</title></rect>'
            f'<text class="value" x="{x + slot * 0.3:.1f}" y="{y - 4:.1f}">{value}</text>'
            f'<text class="label" x="{x + slot * 0.3:.1f}" y="{HEIGHT - PAD_BOTTOM + 18}">'
            f"{escape(label)}</text>"
        )
    return _svg(title, parts)


def line_chart(points: list[tuple[str, int]], *, title: str) -> Markup:
    """A trend line through the points, each labelled below."""
    scale = _scale([value for _label, value in points])
    slot = (WIDTH - PAD_LEFT) / max(len(points), 1)
    coords = [
        (PAD_LEFT + index * slot + slot / 2, HEIGHT - PAD_BOTTOM - value * scale)
        for index, (_label, value) in enumerate(points)
    ]
    parts = [
        '<polyline class="line" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '" />'
    ]
    for (label, value), (x, y) in zip(points, coords, strict=True):
        parts.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{escape(label)}: '
            f'{value}</title></circle><text class="value" x="{x:.1f}" y="{y - 8:.1f}">{value}'
            f'</text><text class="label" x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 18}">'
            f"{escape(label[2:])}</text>"
        )
    return _svg(title, parts)


def _svg(title: str, parts: list[str]) -> Markup:
    axis = (
        f'<line class="axis" x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH}" '
        f'y2="{HEIGHT - PAD_BOTTOM}" />'
    )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{axis}{"".join(parts)}</svg>'
    )
