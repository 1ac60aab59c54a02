"""How the CLI shows values as text: resource graphs as trees, timestamps as local times."""

from __future__ import annotations

from datetime import datetime

from plugins.checkpoint.graph import ResourceGraph


def local_time(timestamp: float) -> str:
    """``timestamp`` as an ISO 8601 local time to the second, with its offset."""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def tree_lines(graph: ResourceGraph) -> list[str]:
    """The graph as an indented tree; a shared node's subtree is drawn once."""
    lines: list[str] = []
    shown: set[int] = set()
    stack = [(root, "", "") for root in reversed(graph.roots)]
    while stack:
        node, lead, child_lead = stack.pop()
        resource = graph.nodes[node]
        label = resource.key
        if resource.name and resource.name != resource.id:
            label += f" ({resource.name})"
        if node in shown:
            lines.append(f"{lead}{label} [shared, shown above]")
            continue
        shown.add(node)
        lines.append(lead + label + (" [shared]" if len(graph.parents[node]) > 1 else ""))
        kids = graph.children[node]
        for position in range(len(kids) - 1, -1, -1):
            last = position == len(kids) - 1
            stack.append(
                (
                    kids[position],
                    child_lead + ("└── " if last else "├── "),
                    child_lead + ("    " if last else "│   "),
                )
            )
    return lines
