"""Malformed requests for the fuzz test, from a seeded generator: the same seed, the same
requests. Every one of them must be refused (none may start an operation); ``duplicate``
requests repeat the id of an operation that exists and must be told so instead.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from bench.synthetic import PROJECT

JSON = "application/json"
ODD_TEXT = ["\u202eevil", "zero\u200bwidth", "\U0001f4a5" * 40, "nul\x00byte", "tab\there",
            "line\nbreak", "caf\u00e9", "\ufeffbom", "\x7fdel", "a" * 3 + "\u0301" * 50]
ROUTING_BREAKERS = ["a#b", "a*b", "a.b", "#", "*.*", "a b", "a/b", "..", "a\tb", "x:y"]


@dataclass(frozen=True)
class Bad:
    """One request to publish: its bytes, its content type, what kind of mistake it is."""

    body: bytes
    content_type: str | None
    family: str


def _dump(value: object) -> bytes:
    return json.dumps(value).encode()


def _valid(rng: random.Random) -> dict[str, object]:
    """A request that would be accepted (with its own fresh id) if nothing were wrong."""
    kind = rng.choice(["protect", "restore", "delete", "verify", "cancel"])
    base: dict[str, object] = {"kind": kind, "request_id": f"fz-{rng.getrandbits(64):x}"}
    if kind == "protect":
        base["resources"] = [{"type": PROJECT, "id": str(rng.randint(1, 9))}]
    elif kind == "cancel":
        base["operation_id"] = f"op-{rng.getrandbits(64):x}"
    else:
        base["checkpoint_id"] = f"cp-{rng.getrandbits(64):x}"
    return base


NOT_TEXT = [7, -1.5, True, [], {}, [[1]], {"a": {"b": []}}]
WRONG_VALUES: dict[str, list[object]] = {
    "v": [-1.5, True, None, "1", [], {}, 7],
    "resources": [7, "x", {}, [[1]], None, True, [{"type": PROJECT}]],
    "parameters": [7, "x", [], None, [[1]], {PROJECT: 5}],
}


def wrong_types(rng: random.Random) -> Bad:
    request = _valid(rng)
    field = rng.choice([*request, "v", "resources", "parameters", "provider_id"])
    request[field] = rng.choice(WRONG_VALUES.get(field, NOT_TEXT))
    return Bad(_dump(request), JSON, "wrong type")


def huge_strings(rng: random.Random) -> Bad:
    request = _valid(rng)
    size = rng.choice([10_000, 30_000, 100_000])
    target = rng.choice(["request_id", "checkpoint_id", "operation_id", "provider_id",
                         "resource id", "resource type"])
    if target.startswith("resource"):
        request = {"kind": "protect", "request_id": request["request_id"],
                   "resources": [{"type": "x" * size if target == "resource type" else PROJECT,
                                  "id": "y" * size}]}
    else:
        request[target] = "z" * size
    return Bad(_dump(request), JSON, "huge string")


def deep_nesting(rng: random.Random) -> Bad:
    depth = rng.choice([40, 1_000, 10_000, 50_000])
    opening, closing = rng.choice([("[", "]"), ('{"a":', "}")])
    nested = (opening * depth + "1" + closing * depth).encode()
    where = rng.choice(["extra", "parameters", "top"])
    if where == "top":
        return Bad(nested, JSON, "deep nesting")
    resources = _dump([{"type": PROJECT, "id": "1"}])
    prefix = b'{"kind": "protect", "resources": ' + resources + b", "
    inner = b'{"x": ' + nested + b"}"
    if where == "parameters":
        inner = b'{"' + PROJECT.encode() + b'": ' + inner + b"}"
    return Bad(prefix + b'"' + where.encode() + b'": ' + inner + b"}", JSON, "deep nesting")


def odd_unicode(rng: random.Random) -> Bad:
    request = _valid(rng)
    text = rng.choice(ODD_TEXT)
    field = rng.choice(["request_id", "checkpoint_id", "operation_id", "resource"])
    if field == "resource":
        request = {"kind": "protect", "resources": [{"type": f"OS::{text}", "id": text}]}
    else:
        request[field] = text
    return Bad(_dump(request), JSON, "odd unicode")


def long_ids(rng: random.Random) -> Bad:
    request = _valid(rng)
    request["request_id" if rng.random() < 0.5 else "operation_id"] = "i" * 10_240
    if request.get("kind") != "cancel":
        request["request_id"] = "i" * 10_240
    return Bad(_dump(request), JSON, "10 kB id")


def routing_breakers(rng: random.Random) -> Bad:
    request = _valid(rng)
    fields = ["request_id"] + [f for f in ("operation_id", "checkpoint_id") if f in request]
    breaker = rng.choice(ROUTING_BREAKERS)
    wrapped = f"fz-{breaker}-{rng.getrandbits(16)}"  # still holds the breaking character
    request[rng.choice(fields)] = breaker if rng.random() < 0.5 else wrapped
    return Bad(_dump(request), JSON, "routing-key breaker")


def truncated(rng: random.Random) -> Bad:
    body = _dump({**_valid(rng), "parameters": {PROJECT: {"delay": 0.0}}})
    return Bad(body[:rng.randint(0, len(body) - 1)], JSON, "truncated JSON")


def wrong_content_type(rng: random.Random) -> Bad:
    content_type = rng.choice(["text/plain", "application/xml", "application/octet-stream",
                               "application/x-msgpack", "text/html; charset=utf-8"])
    return Bad(_dump(_valid(rng)), content_type, "wrong content type")


def not_json(rng: random.Random) -> Bad:
    choices = [b"", b"null", b"[]", b"42", b'"protect"', bytes(rng.getrandbits(8)
               for _ in range(rng.randint(1, 200))), b"\xff\xfe{}", b"{'kind': 'protect'}"]
    return Bad(rng.choice(choices), rng.choice([JSON, None]), "not a request")


def unknown_names(rng: random.Random) -> Bad:
    request = _valid(rng)
    mistake = rng.choice(["kind", "version", "field", "type", "no resources", "cancel"])
    if mistake == "kind":
        request["kind"] = rng.choice(["format", "PROTECT", "", "protect "])
    elif mistake == "version":
        request["v"] = rng.choice([0, 2, 99, -1])
    elif mistake == "field":
        request["colour"] = "blue"
    elif mistake == "type":  # a well-formed type no plugin knows: refused at discovery
        request = {"kind": "protect", "request_id": request["request_id"],
                   "resources": [{"type": "OS::Nova::Nothing", "id": "1"}]}
    elif mistake == "no resources":
        request = {"kind": "protect", "resources": []}
    else:  # a well-formed id of an operation that does not exist
        request = {"kind": "cancel", "operation_id": f"gone-{rng.getrandbits(64):x}"}
    return Bad(_dump(request), JSON, "unknown name")


FAMILIES: list[Callable[[random.Random], Bad]] = [
    wrong_types, huge_strings, deep_nesting, odd_unicode, long_ids, routing_breakers,
    truncated, wrong_content_type, not_json, unknown_names]
# the expensive ones are rarer: the short version must stay short
WEIGHTS = [10, 1, 1, 10, 1, 10, 10, 10, 10, 10]


def too_many_resources() -> Bad:
    """100,000 resources: over the byte limit, refused before it is parsed."""
    resources = [{"type": PROJECT, "id": str(i)} for i in range(100_000)]
    return Bad(_dump({"kind": "protect", "resources": resources}), JSON, "100k resources")


def generate(seed: int, count: int, duplicate_of: str, duplicates: int) -> list[Bad]:
    """``count`` requests: ``duplicates`` repeats of ``duplicate_of``, two of 100k
    resources, the rest drawn from every family."""
    rng = random.Random(seed)
    found = [too_many_resources(), too_many_resources()]
    found += [Bad(_dump({"kind": "protect", "request_id": duplicate_of,
                         "resources": [{"type": PROJECT, "id": "2"}]}), JSON, "duplicate")
              for _ in range(duplicates)]
    while len(found) < count:
        family = rng.choices(FAMILIES, WEIGHTS)[0]
        found.append(family(rng))
    rng.shuffle(found)
    return found
