"""Graphs to look at: DOT text, and SVG drawn by Graphviz, checked by parsing the SVG."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from actors.cli.graph_render import STATUS_COLOURS, graph_dot, render_svg, status_colour
from actors.errors import StrongboxError
from plugins.checkpoint.graph import ResourceGraph
from plugins.resource import Resource

SVG = "{http://www.w3.org/2000/svg}"
STATUSES = ["available", "available", "available", "error", "cancelled", "skipped",
            "not_started"]

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and os.environ.get("CI") != "true",
    reason="Graphviz's dot is not installed (make test installs it)")


def project_graph(servers: int) -> ResourceGraph:
    """A project, ``servers`` servers of two volumes each, and a network every server
    shares: 2 + 3 * servers resources."""
    nodes = [Resource(type="OS::Keystone::Project", id="p", name="production"),
             Resource(type="OS::Neutron::Network", id="net", name="shared \"net\" <1>")]
    children: list[list[int]] = [[1], []]
    for s in range(servers):
        server = len(nodes)
        nodes.append(Resource(type="OS::Nova::Server", id=f"srv-{s}", name=f"web-{s:03d}"))
        children.append([1])
        children[0].append(server)
        for v in range(2):
            children[server].append(len(nodes))
            nodes.append(Resource(type="OS::Cinder::Volume", id=f"vol-{s}-{v}"))
            children.append([])
    return ResourceGraph(nodes, children)


def nodes_of(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.get("id", ""): g for g in root.iter(f"{SVG}g")
            if "node" in (g.get("class") or "").split()}


def test_the_dot_text_has_one_node_per_resource_and_one_edge_per_link() -> None:
    graph = project_graph(3)
    dot = graph_dot(graph, None, "title")
    assert dot.count("[id=") == len(graph)
    assert dot.count(" -> ") == sum(len(c) for c in graph.children)
    assert '\\"net\\"' in dot  # quotes in names are escaped


@needs_dot
async def test_a_300_resource_checkpoint_draws_one_coloured_node_per_resource() -> None:
    graph = project_graph(99)  # 2 + 297 resources, and an image below
    graph = ResourceGraph([*graph.nodes, Resource(type="OS::Glance::Image", id="img")],
                          [*graph.children, []])
    assert len(graph) == 300
    statuses = {node: STATUSES[node % len(STATUSES)] for node in range(len(graph))}
    svg = await render_svg(graph_dot(graph, statuses, "checkpoint c1"), len(graph))
    drawn = nodes_of(svg)
    assert len(drawn) == 300  # the legend is the graph's label, not nodes
    for node, resource in enumerate(graph.nodes):
        element = drawn[f"resource-{node}"]
        shape = next(element.iter(f"{SVG}path"), None)  # a rounded box is a path
        assert shape is not None, resource.key
        assert shape.get("fill") == STATUS_COLOURS[statuses[node]], resource.key
        assert f"status-{statuses[node]}" in (element.get("class") or "")
        texts = [t.text for t in element.iter(f"{SVG}text")]
        assert resource.type in texts
    # every status drawn is in the legend
    legend = {t.text for t in ET.fromstring(svg).iter(f"{SVG}text")}
    assert set(STATUSES) <= legend
    # legible: boxes are not shrunk to fit a page, every label stays 10 points
    sizes = {t.get("font-size") for g in drawn.values() for t in g.iter(f"{SVG}text")}
    assert sizes == {"10.00"}


def test_unknown_statuses_get_the_unknown_colour() -> None:
    assert status_colour(None) == status_colour("protecting") != status_colour("available")


async def test_a_graph_too_large_to_read_is_refused_with_what_to_do_instead() -> None:
    with pytest.raises(StrongboxError, match="--format dot"):
        await render_svg("digraph {}", 100_000)


@needs_dot
def test_resources_graph_and_checkpoints_show_draw_svg_from_the_command_line(
        tmp_path: Path) -> None:
    source = tmp_path / "data"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "file").write_bytes(b"x" * 1000)
    providers = tmp_path / "providers"
    providers.mkdir()
    (providers / "local.conf").write_text(
        "[provider]\nname = Local\nid = local\ndescription = d\nbank = filesystem\n"
        f"plugin = directory\n\n[filesystem]\npath = {tmp_path / 'bank'}\n\n"
        "[directory]\nencryption = none\n")
    base = [sys.executable, "-m", "actors.cli.main", "--providers-dir", str(providers)]

    def run(*args: str) -> str:
        done = subprocess.run([*base, *args], capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    ref = f"Strongbox::Directory#{source}"
    dot = run("resources", "graph", ref, "--format", "dot")
    assert dot.startswith("digraph strongbox {") and "Strongbox::Directory" in dot
    assert len(nodes_of(run("resources", "graph", ref, "--format", "svg"))) == 1
    checkpoint = run("protect", ref, "--json").strip().splitlines()
    finished = [line for line in checkpoint if '"operation_finished"' in line]
    checkpoint_id = finished[-1].split('"checkpoint_id":"')[1].split('"')[0]
    drawn = nodes_of(run("checkpoints", "show", checkpoint_id, "--format", "svg"))
    assert [g.get("class") for g in drawn.values()] == ["node status-available"]
