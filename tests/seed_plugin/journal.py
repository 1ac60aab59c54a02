"""The seed's four orderings, checked on the journal the seed_example plugin writes."""

from __future__ import annotations

from pathlib import Path

SITE = Path(__file__).resolve().parent / "site"
PROJECT, SERVER, VOLUME = "SeedExample::Project", "SeedExample::Server", "SeedExample::Volume"
# parent -> children, as the fake cloud has them (v1 is shared by s1 and s2)
EDGES = [(f"{PROJECT}#p1", f"{SERVER}#s1"), (f"{PROJECT}#p1", f"{SERVER}#s2"),
         (f"{SERVER}#s1", f"{VOLUME}#v1"), (f"{SERVER}#s2", f"{VOLUME}#v1"),
         (f"{SERVER}#s2", f"{VOLUME}#v2")]
RESOURCES = sorted({key for edge in EDGES for key in edge})


def check_journal(path: Path, operation: str) -> set[str]:
    """Assert the four orderings for ``operation``; return the worker pids that ran it."""
    position: dict[tuple[str, str, str], int] = {}
    pids = set()
    for index, line in enumerate(path.read_text().splitlines()):
        event, op, phase, key, pid, _ = line.split()
        if op != operation:
            continue
        assert (event, phase, key) not in position, f"{event} {op} {phase} {key} twice"
        position[event, phase, key] = index
        pids.add(pid)
    for key in RESOURCES:
        for phase in ("pre", "parallel", "post"):
            assert ("end", phase, key) in position, f"{operation} {phase} of {key} never ended"
        assert position["end", "pre", key] < position["start", "parallel", key], key
        assert position["end", "parallel", key] < position["start", "post", key], key
    for parent, child in EDGES:
        assert position["end", "pre", parent] < position["start", "pre", child], (parent, child)
        assert position["end", "post", child] < position["start", "post", parent], (parent, child)
    return pids


def provider_file(directory: Path, bank: Path) -> Path:
    """A provider with the seed plugin by its seed-style entry name, polling fast."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "seed.conf").write_text(
        "[provider]\nname = Seed\nid = seed-provider\ndescription = seed-style plugins\n"
        "bank = filesystem\nplugin = seed-example-protection-plugin\n"
        f"\n[filesystem]\npath = {bank}\n"
        "\n[seed-example-protection-plugin]\npoll_interval = 0.01\n")
    return directory
