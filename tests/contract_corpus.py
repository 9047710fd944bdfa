"""Regenerate tests/fixtures/contract_corpus.json: small pieces of every shipped template, then mutated.

A piece is a window of up to 8 consecutive nodes (in evaluation order) of a template whose Input was shrunk to a
tiny sample; what the window reads from outside becomes an Input of the shape the template gives there. Each piece is
kept as is and mutated a few ways a hostile or careless user would: an id renamed to a reserved or odd name, a
parameter set to a random value, an input rewired, an empty ``outputs`` list, an in-place flag.

Usage: ``python tests/contract_corpus.py`` (deterministic: the same templates give the same file).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from designer import analyze
from designer.editing.templates import list_templates, load_template
from designer.layers.registry import get_spec
from designer.model.fileformat import from_dict, node_to_dict
from tests.contract import CORPUS, ODD_IDS, _value

WINDOW = 8
#: Pieces with more weights than this are left out: the contract test runs every piece, and CI has two cores.
MAX_PARAMS = 50_000
PIECES_PER_TEMPLATE = 6
SMALL = 8


def _shrunk(graph: Any) -> None:
    for node in graph:
        if node.type == "Input":
            shape = list(node.params["shape"])
            node.params["shape"] = [shape[0]] + [min(s, SMALL) for s in shape[1:]] if len(shape) == 3 else shape


def pieces(name: str, rng: random.Random) -> list[dict[str, Any]]:
    """Windows of the template ``name`` as standalone designs, small enough to run in the test."""
    graph = load_template(name)
    _shrunk(graph)
    analysis = analyze(graph)
    order = [n for n in analysis.order if graph[n].type != "Input"]
    out = []
    for start in sorted(rng.sample(range(len(order)), min(PIECES_PER_TEMPLATE, len(order)))):
        window = order[start : start + WINDOW]
        inside = set(window)
        nodes: list[dict[str, Any]] = []
        feeds: dict[str, str] = {}
        for node_id in window:
            node = node_to_dict(graph[node_id])
            for k, src in enumerate(node.get("inputs", [])):
                if src not in inside:
                    shape = analysis.shape(src)
                    if shape is None:
                        break
                    if src not in feeds:
                        feeds[src] = f"in{len(feeds)}"
                        nodes.append({"id": feeds[src], "type": "Input", "params": {"shape": list(shape)}})
                    node["inputs"][k] = feeds[src]
            nodes.append(node)
        design = {"format": "cnn-designer/2", "name": f"{name} piece {start}", "nodes": nodes}
        if analyze(from_dict(design, lambda d: None)).total_params <= MAX_PARAMS:
            out.append(design)
    return out


def mutate(design: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One careless edit of ``design``."""
    data = json.loads(json.dumps(design))
    layers = [n for n in data["nodes"] if n["type"] != "Input"]
    node = rng.choice(layers)
    what = rng.choice(["rename", "param", "rewire", "outputs", "inplace"])
    if what == "rename":
        new = rng.choice(ODD_IDS)
        for other in data["nodes"]:
            other["inputs"] = [new if s == node["id"] else s for s in other.get("inputs", [])]
        node["id"] = new
    elif what == "param":
        spec = get_spec(node["type"])
        if spec is not None and spec.params:
            p = rng.choice(spec.params)
            node.setdefault("params", {})[p.name] = _value(p.kind, rng, p.low, p.high, p.choices)
    elif what == "rewire" and node.get("inputs"):
        node["inputs"][0] = rng.choice(data["nodes"])["id"]
    elif what == "outputs":
        data["outputs"] = []
    else:
        node.setdefault("params", {})["inplace"] = True
    data["name"] += f" {what}"
    return data


def build() -> list[dict[str, Any]]:
    """Every template's pieces, each kept and mutated twice."""
    rng = random.Random(13)
    designs = []
    for info in list_templates():
        for piece in pieces(info.name, rng):
            designs += [piece, mutate(piece, rng), mutate(piece, rng)]
    return designs


if __name__ == "__main__":
    designs = build()
    CORPUS.write_text(json.dumps(designs, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{CORPUS}: {len(designs)} designs from the templates")
