"""Resource graphs as pictures: Graphviz DOT text, and SVG drawn by Graphviz's ``dot``.

``strongbox resources graph ... --format dot|svg`` draws a graph as it would be protected;
``strongbox checkpoints show CP --format dot|svg`` draws a checkpoint's graph with each
resource filled by its status in that checkpoint (a legend in the corner says which
colour is which). Graphs run left to right, parents before children, so a project with a
few hundred servers and volumes is a tall column of legible boxes rather than a line too
wide to read; each box shows the resource's type over its name (or id) and its full
``type#id`` on hover.

SVG needs Graphviz's ``dot`` on the PATH (Debian: ``apt-get install graphviz``); the DOT
text needs nothing, for those who lay it out elsewhere.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Mapping
from typing import Final

from actors.errors import StrongboxError
from plugins.checkpoint.graph import ResourceGraph

# A graph larger than this is refused as SVG: dot takes minutes, and nobody reads it.
MAX_DRAWN_NODES: Final = 3000
DOT_TIMEOUT: Final = 300.0

# Fill colours by resource status in a checkpoint (plugins.checkpoint.checkpoint), chosen
# to stay distinct for the common kinds of colour blindness and to keep black text legible.
STATUS_COLOURS: Final[Mapping[str, str]] = {
    "available": "#a6dba0",
    "restored": "#a6dba0",
    "deleted": "#a6dba0",
    "error": "#f4a582",
    "cancelled": "#fee08b",
    "skipped": "#d9d9d9",
    "not_started": "#ffffff",
}
UNKNOWN_COLOUR: Final = "#c6dbef"  # no status recorded (still running, or not a checkpoint)
PLAIN_COLOUR: Final = "#f7f7f7"


def _quoted(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _html(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_colour(status: str | None) -> str:
    """The fill colour of a resource with this status (``None``: no status known)."""
    if status is None:
        return UNKNOWN_COLOUR
    return STATUS_COLOURS.get(status, UNKNOWN_COLOUR)


def graph_dot(graph: ResourceGraph, statuses: Mapping[int, str] | None = None,
              title: str = "") -> str:
    """The graph as DOT text; with ``statuses`` (node -> status), boxes are filled by
    status and a legend lists the statuses present."""
    label = _legend(title, statuses) if statuses is not None else _quoted(title)
    lines = [
        "digraph strongbox {",
        "  graph [rankdir=LR, ranksep=0.6, nodesep=0.12, fontname=\"Helvetica\", "
        f"fontsize=12, labelloc=t, labeljust=l, label={label}];",
        "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10, "
        "margin=\"0.08,0.03\", height=0.3];",
        "  edge [arrowsize=0.5, color=\"#7f7f7f\"];",
    ]
    for node, resource in enumerate(graph.nodes):
        status = statuses.get(node) if statuses is not None else None
        fill = status_colour(status) if statuses is not None else PLAIN_COLOUR
        name = resource.name if resource.name and resource.name != resource.id else resource.id
        label = f"{resource.type}\n{_short(name)}"
        tooltip = resource.key + (f" ({status})" if status else "")
        lines.append(
            f"  n{node} [id={_quoted(f'resource-{node}')}, label={_quoted(label)}, "
            f"fillcolor={_quoted(fill)}, tooltip={_quoted(tooltip)}"
            + (f", class={_quoted('status-' + status)}" if status else "") + "];")
    for node in range(len(graph.nodes)):
        for child in graph.children[node]:
            lines.append(f"  n{node} -> n{child};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _legend(title: str, statuses: Mapping[int, str]) -> str:
    """The title and a legend of the statuses present, as the graph's HTML-like label (a
    label, not nodes: the drawing holds one node per resource and nothing else)."""
    present = sorted(set(statuses.values()))
    rows = "".join(
        f'<TR><TD BGCOLOR="{status_colour(s)}" WIDTH="14"></TD>'
        f'<TD ALIGN="LEFT">{_html(s)}</TD></TR>' for s in present)
    if not present:
        rows = (f'<TR><TD BGCOLOR="{UNKNOWN_COLOUR}" WIDTH="14"></TD>'
                '<TD ALIGN="LEFT">no status recorded</TD></TR>')
    heading = f'<TR><TD COLSPAN="2" ALIGN="LEFT"><B>{_html(title)}</B></TD></TR>' if title else ""
    return ('<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">'
            f"{heading}{rows}</TABLE>>")


async def render_svg(dot: str, nodes: int) -> str:
    """Lay ``dot`` out with Graphviz; return the SVG text.

    Raises:
        StrongboxError: if ``dot`` is not installed, the graph is too large to draw,
            or Graphviz fails.
    """
    if nodes > MAX_DRAWN_NODES:
        raise StrongboxError(f"the graph has {nodes} resources, too many to draw legibly "
                             f"(the limit is {MAX_DRAWN_NODES}); use --format dot and a "
                             f"layout for large graphs (sfdp), or --json")
    program = shutil.which("dot")
    if program is None:
        raise StrongboxError("--format svg needs Graphviz's 'dot' program, which is not "
                             "installed (Debian: apt-get install graphviz); --format dot "
                             "prints the graph without it")
    process = await asyncio.create_subprocess_exec(
        program, "-Tsvg", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(DOT_TIMEOUT):
            svg, errors = await process.communicate(dot.encode())
    except TimeoutError:
        process.kill()
        await process.wait()
        raise StrongboxError(f"Graphviz took more than {DOT_TIMEOUT:g} s to draw the "
                             f"graph") from None
    if process.returncode != 0:
        reason = errors.decode(errors="replace").strip().splitlines()
        raise StrongboxError(f"Graphviz failed: {reason[-1] if reason else process.returncode}")
    return svg.decode()
