"""The baseline: the seed's orderings with nothing else, one asyncio.Event per phase.

No messages, events, journal or bank: the least an asyncio program can do to run the
same graph in the same order. Strongbox's cost is reported as a ratio to this.
"""

from __future__ import annotations

import asyncio

from plugins.checkpoint.graph import ResourceGraph


async def run_ideal(graph: ResourceGraph) -> None:
    """Run a no-op pre, parallel and post per node in seed order."""
    count = len(graph)
    pre_done = [asyncio.Event() for _ in range(count)]
    post_done = [asyncio.Event() for _ in range(count)]

    async def actor(node: int) -> None:
        for parent in graph.parents[node]:
            await pre_done[parent].wait()
        pre_done[node].set()  # pre
        await asyncio.sleep(0)  # parallel
        for child in graph.children[node]:
            await post_done[child].wait()
        post_done[node].set()  # post

    async with asyncio.TaskGroup() as group:
        for node in range(count):
            group.create_task(actor(node))
