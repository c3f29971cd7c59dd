"""The report as blocks (headings, paragraphs, bullet lists, code, tables and charts) and their two
renderings, ``to_markdown`` and ``to_html``, made from the same text and numbers. The HTML page is
self-contained (inline style, charts as ``data:`` URIs), and its table cells carry the exact numbers
behind their rounded text as ``data-*`` attributes, for whoever wants to check them.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Cell:
    """A table cell: its text, and (HTML only) ``data-*`` attributes with the exact numbers behind it."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    id: str
    headers: list[str]
    rows: list[list[Cell]]
    row_data: list[dict[str, Any]] = field(default_factory=list)  # ``data-*`` attributes of each row
    caption: str = ""


@dataclass(frozen=True)
class Chart:
    file: str  # the PNG's name beside report.md
    title: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: list[tuple[str, str]]  # (label, text); an empty label is a plain item


@dataclass(frozen=True)
class Code:
    text: str


Block = Heading | Paragraph | Bullets | Code | Table | Chart

_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>|#])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def _md(text: str) -> str:
    """Text as literal Markdown (backslash before what would be markup; ``rolled_back`` stays readable)."""
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def to_markdown(title: str, blocks: list[Block]) -> str:
    lines = [f"# {_md(title)}", ""]
    for block in blocks:
        lines += _markdown(block)
    return "\n".join(lines).rstrip("\n") + "\n"


def _markdown(block: Block) -> list[str]:
    """A block's lines, the last one blank."""
    if isinstance(block, Heading):
        return ["#" * block.level + " " + _md(block.text), ""]
    if isinstance(block, Paragraph):
        return [_md(block.text), ""]
    if isinstance(block, Bullets):
        items = [f"- **{_md(label)}**: {_md(text)}" if label else f"- {_md(text)}" for label, text in block.items]
        return [*items, ""]
    if isinstance(block, Code):
        return ["```", block.text, "```", ""]
    if isinstance(block, Table):
        return _markdown_table(block)
    return [f"![{_md(block.title)}]({block.file})", "", f"*{_md(block.caption)}*", ""]


def _markdown_table(table: Table) -> list[str]:
    alignments = ("---:" if _numeric_column(table, i) else "---" for i in range(len(table.headers)))
    lines = [
        "| " + " | ".join(_md(h) for h in table.headers) + " |",
        "|" + "|".join(alignments) + "|",
        *("| " + " | ".join(_md(cell.text) for cell in row) + " |" for row in table.rows),
        "",
    ]
    if table.caption:
        lines += [f"*{_md(table.caption)}*", ""]
    return lines


def _numeric_column(table: Table, index: int) -> bool:
    return bool(table.rows) and all(row[index].numeric for row in table.rows)


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d0d0; padding: .25rem .6rem; text-align: left; white-space: nowrap; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { caption-side: bottom; text-align: left; color: #555; font-size: .85rem; padding-top: .3rem; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .88rem; } pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; }
"""


def to_html(title: str, blocks: list[Block]) -> str:
    """One self-contained page: the charts are PNGs in ``data:`` URIs, the style is inline."""
    head = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="rollout-sim report">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    return "\n".join([*head, *map(_html, blocks), "</body>", "</html>", ""])


def _html(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{html.escape(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p>{html.escape(block.text)}</p>"
    if isinstance(block, Bullets):
        items = [
            f"<li><strong>{html.escape(label)}</strong>: {html.escape(text)}</li>"
            if label
            else f"<li>{html.escape(text)}</li>"
            for label, text in block.items
        ]
        return "<ul>\n" + "\n".join(items) + "\n</ul>"
    if isinstance(block, Code):
        return f"<pre><code>{html.escape(block.text)}</code></pre>"
    if isinstance(block, Table):
        return _html_table(block)
    encoded = base64.b64encode(block.png).decode("ascii")
    return (
        f'<figure id="chart-{html.escape(block.file.removesuffix(".png"))}">'
        f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(block.title)}">'
        f"<figcaption>{html.escape(block.caption)}</figcaption></figure>"
    )


def _html_table(table: Table) -> str:
    lines = [f'<table id="{html.escape(table.id)}">']
    if table.caption:
        lines.append(f"<caption>{html.escape(table.caption)}</caption>")
    lines.append("<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in table.headers) + "</tr></thead>")
    lines.append("<tbody>")
    for index, row in enumerate(table.rows):
        data = table.row_data[index] if index < len(table.row_data) else {}
        lines.append(f"<tr{_attributes(data)}>{''.join(map(_html_cell, row))}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _html_cell(cell: Cell) -> str:
    numeric = ' class="num"' if cell.numeric else ""
    return f"<td{numeric}{_attributes(cell.data)}>{html.escape(cell.text)}</td>"


def _attributes(data: dict[str, Any]) -> str:
    """``data-*`` attributes; a float in full (``repr``), so that the page holds the exact number."""
    parts = []
    for key, value in data.items():
        if value is None:
            continue
        shown = repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
        parts.append(f' data-{key}="{html.escape(shown)}"')
    return "".join(parts)
