"""The resource graph: a DAG built depth-first from the selected resources.

Stored format (``/checkpoints/<id>/graph``, JSON, versioned by ``v``)::

    {"v": 1,
     "nodes":    [{"type": ..., "id": ..., "name": ..., "extra": {...}}, ...],
     "children": [[1, 2], [], [], ...]}

``children[i]`` lists the node indices resource ``i`` depends on. Node indices are also
the actors' addresses within an operation. Roots are the nodes no one lists as a child.
Unlike the original system's post-order ``0x..`` ids and children-first adjacency, plain
indices keep the document small (100k nodes) and need no ordering rule to decode.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence

import msgspec

from plugins.errors import CheckpointError, ResourceGraphLoop
from plugins.resource import Resource

GRAPH_FORMAT_VERSION = 1

DependentsFetcher = Callable[[Resource], Awaitable[Sequence[Resource]]]


class GraphDocument(msgspec.Struct, kw_only=True):
    """The serialized graph."""

    v: int = GRAPH_FORMAT_VERSION
    nodes: list[Resource]
    children: list[list[int]]


class ResourceGraph:
    """Nodes, children and parents by index; roots in discovery order."""

    __slots__ = ("children", "index", "nodes", "parents", "roots")

    def __init__(self, nodes: Sequence[Resource], children: Sequence[Sequence[int]]) -> None:
        if len(nodes) != len(children):
            raise CheckpointError("resource graph: nodes and children differ in length")
        self.nodes: list[Resource] = list(nodes)
        self.children: list[list[int]] = [list(c) for c in children]
        self.parents: list[list[int]] = [[] for _ in self.nodes]
        count = len(self.nodes)
        for parent, kids in enumerate(self.children):
            for child in kids:
                if not 0 <= child < count:
                    raise CheckpointError(
                        f"resource graph: node {parent} has unknown child {child}")
                self.parents[child].append(parent)
        self.roots: list[int] = [i for i, p in enumerate(self.parents) if not p]
        self.index: dict[tuple[str, str], int] = {
            (r.type, r.id): i for i, r in enumerate(self.nodes)}

    def __len__(self) -> int:
        return len(self.nodes)

    def find(self, resource_type: str, resource_id: str) -> int | None:
        """The node index of a resource, or None."""
        return self.index.get((resource_type, resource_id))

    def types(self) -> set[str]:
        """Every resource type in the graph."""
        return {node.type for node in self.nodes}

    def encode(self) -> bytes:
        """Serialize to the stored JSON format."""
        return msgspec.json.encode(GraphDocument(nodes=self.nodes, children=self.children))

    @classmethod
    def decode(cls, data: bytes) -> ResourceGraph:
        """Read the stored format.

        Raises:
            CheckpointError: if the document is malformed or of an unknown version.
        """
        try:
            doc = msgspec.json.decode(data, type=GraphDocument)
        except msgspec.DecodeError as error:
            raise CheckpointError(f"resource graph document is malformed: {error}") from error
        if doc.v != GRAPH_FORMAT_VERSION:
            raise CheckpointError(f"resource graph format v{doc.v} is not supported")
        graph = cls(doc.nodes, doc.children)
        graph.check_acyclic()
        return graph

    def check_acyclic(self) -> None:
        """Raise if the graph has a cycle (a stored graph could be hand-edited).

        Raises:
            ResourceGraphLoop: naming the cycle.
        """
        white, gray, black = 0, 1, 2
        color = [white] * len(self.nodes)
        for start in range(len(self.nodes)):
            if color[start] != white:
                continue
            path: list[int] = [start]
            iterators = [iter(self.children[start])]
            color[start] = gray
            while iterators:
                child = next(iterators[-1], None)
                if child is None:
                    color[path.pop()] = black
                    iterators.pop()
                elif color[child] == gray:
                    cycle = [*path[path.index(child):], child]
                    raise ResourceGraphLoop([self.nodes[i].key for i in cycle])
                elif color[child] == white:
                    color[child] = gray
                    path.append(child)
                    iterators.append(iter(self.children[child]))


async def build_graph(selected: Iterable[Resource], dependents: DependentsFetcher) -> ResourceGraph:
    """Walk depth-first from ``selected`` through ``dependents`` into a DAG.

    A resource reached from several parents becomes one node; dependents that were not
    selected are included; a selected resource reached as someone's dependent is not a
    root. The walk is iterative so deep chains do not hit the recursion limit.

    Raises:
        ResourceGraphLoop: if the walk comes back to a resource on its own path.
    """
    nodes: list[Resource] = []
    children: list[list[int]] = []
    edges: set[tuple[int, int]] = set()  # a set, because a parent may have 100k children
    index: dict[tuple[str, str], int] = {}
    on_path: set[int] = set()

    def add(resource: Resource) -> tuple[int, bool]:
        key = (resource.type, resource.id)
        found = index.get(key)
        if found is not None:
            return found, False
        index[key] = len(nodes)
        nodes.append(resource)
        children.append([])
        return index[key], True

    for root in selected:
        root_index, is_new = add(root)
        if not is_new:
            continue
        path = [root_index]
        on_path.add(root_index)
        pending = [iter(await dependents(root))]
        while pending:
            child = next(pending[-1], None)
            if child is None:
                pending.pop()
                on_path.discard(path.pop())
                continue
            parent_index = path[-1]
            child_index, is_new = add(child)
            if child_index in on_path:
                cycle = [*path[path.index(child_index):], child_index]
                raise ResourceGraphLoop([nodes[i].key for i in cycle])
            if (parent_index, child_index) not in edges:
                edges.add((parent_index, child_index))
                children[parent_index].append(child_index)
            if is_new:
                path.append(child_index)
                on_path.add(child_index)
                pending.append(iter(await dependents(child)))
    return ResourceGraph(nodes, children)
