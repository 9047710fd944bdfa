"""The project file: UTF-8 JSON, ``"format": "cnn-designer/2"``. Reading is strict about structure and lenient about
content (content problems become diagnostics); unknown fields survive a load and save; writes are atomic."""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import diagnostics as dg
from .diagnostics import Diagnostic
from .graph import NODE_FIELDS, Graph, Node, NodeId, canonical_ref
from .migrations import OLDEST_VERSION, migrate

FORMAT_VERSION = 2
FORMAT = f"cnn-designer/{FORMAT_VERSION}"
#: Nine digits are more versions than this format will ever have, and keep int() far from its digit limit.
_FORMAT_RE = re.compile(r"cnn-designer/(\d{1,9})")
#: Top-level keys written in this order; anything else follows, in the order it was read.
_TOP_KEYS = ("format", "name", "description", "nodes", "outputs")

ErrorHandler = Callable[[Diagnostic], None]


class ProjectError(Exception):
    """A project file that cannot be read; the message says why, for a person."""


class FormatError(ProjectError):
    """The file is not a well-formed project (bad JSON, wrong structure)."""


class UnsupportedFormatVersionError(ProjectError):
    """The file was written by a newer version of the format."""


def load(path: str | os.PathLike[str], error_handler: ErrorHandler | None = None) -> Graph:
    """Read a project file. Content problems (a duplicate id, a malformed optional field) go to ``error_handler``.

    Raises:
        ProjectError: the file cannot be read or is not a project; with no ``error_handler``, also on the first
            content problem.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror or exc}") from None
    remove_stale_temps(os.path.realpath(path))
    foreign = foreign_kind(data, path)
    if foreign is not None:
        what, todo = foreign
        raise FormatError(f"this is {what}, not a CNN Designer design (a JSON text file); {todo}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"not a design: byte {exc.start} is not UTF-8 text, and a design is JSON text saved by CNN Designer"
        ) from None
    return loads(text, error_handler)


#: Leading bytes of the files people most often open by mistake, with what they are and what to do instead.
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG", "a PNG image", "images go to the Insight dock (drop one there) or to `designer insight --image`"),
    (
        b"\xff\xd8\xff",
        "a JPEG image",
        "images go to the Insight dock (drop one there) or to `designer insight --image`",
    ),
    (b"GIF8", "a GIF image", "open a design (.json) instead"),
    (b"%PDF", "a PDF document", "open a design (.json) instead"),
    (
        b"PK\x03\x04",
        "a ZIP archive, as PyTorch checkpoints (.pt) are",
        "export its design with `python -m designer export FILE --format python`, or open the design it was "
        "trained from",
    ),
    (b"\x80", "a Python pickle (an old PyTorch file)", "open the design it belongs to (.json) instead"),
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it first if it holds a design"),
)


def foreign_kind(data: bytes, path: str | os.PathLike[str] = "") -> tuple[str, str] | None:
    """What a file that is not a design looks like it is, and what to do with it; None if it may be a design."""
    if not data.strip():
        return "an empty file", "save a design over it, or open another file"
    if os.fspath(path).lower().endswith(".onnx"):
        return "an ONNX model", "turn it into a design with `python -m designer import onnx:FILE -o design.json`"
    for magic, what, todo in _SIGNATURES:
        if data.startswith(magic):
            return what, todo
    return None


def loads(text: str, error_handler: ErrorHandler | None = None) -> Graph:
    """Read a project from JSON text; see ``load``."""
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        # json's messages end in "at" where they mean the position ("Unterminated string starting at").
        what = re.sub(r"\s+at$", " there", exc.msg)
        raise FormatError(
            f"not valid JSON at line {exc.lineno}, column {exc.colno}: {what} (a text editor shows the place)"
        ) from None
    except (RecursionError, ValueError) as exc:
        raise FormatError(f"not valid JSON: {exc}") from None
    if _SURROGATE.search(text):
        _check_encodable(data)
    return from_dict(data, error_handler)


#: A ``\ud800``-style escape or a raw surrogate: the only ways a lone surrogate gets into parsed JSON.
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")


def _check_encodable(data: Any) -> None:
    """Refuse text that cannot be written back as UTF-8 (a lone surrogate), here rather than at the next save."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end].encode("utf-8", "backslashreplace").decode("ascii")
        raise FormatError(
            f"a string holds {bad}, half of a UTF-16 surrogate pair, which is not text; correct it in a text editor"
        ) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is too large")
    return value


def _raise(diag: Diagnostic) -> None:
    raise FormatError(diag.message)


def from_dict(data: Any, error_handler: ErrorHandler | None = None) -> Graph:
    """Build a graph from parsed JSON; see ``load``."""
    handler = error_handler or _raise
    if not isinstance(data, dict):
        raise FormatError(f"a project is a JSON object, not {_json_type(data)}")
    version = _check_format(data.get("format"))
    data = migrate(data, version, FORMAT_VERSION)
    name = data.get("name", "Untitled")
    if not isinstance(name, str):
        raise FormatError(f"'name' must be a string, not {_json_type(name)}")
    nodes_data = data.get("nodes")
    if not isinstance(nodes_data, list):
        raise FormatError("'nodes' must be a list of nodes" if "nodes" in data else "the project has no 'nodes' list")
    nodes: dict[NodeId, Node] = {}
    for i, raw in enumerate(nodes_data):
        node = _read_node(raw, i, handler)
        if node.id in nodes:
            new_id = _free_id(node.id, nodes)
            handler(
                dg.error(
                    "graph.duplicate_id",
                    f"nodes[{i}] repeats id '{node.id}'; it was renamed '{new_id}'",
                    new_id,
                    "give it its own id and check which node its consumers should read",
                )
            )
            node.id = new_id
        nodes[node.id] = node
    graph = Graph(name, list(nodes.values()), _read_outputs(data.get("outputs")))
    graph.extra.update((k, v) for k, v in data.items() if k not in ("format", "name", "nodes", "outputs"))
    return graph


def _check_format(fmt: Any) -> int:
    """The version of a ``format`` field this code can read (migrating it if older)."""
    if fmt is None:
        raise FormatError(f"not a CNN Designer project: no 'format' field (expected \"{FORMAT}\")")
    match = _FORMAT_RE.fullmatch(fmt) if isinstance(fmt, str) else None
    if match is None:
        raise FormatError(f'not a CNN Designer project: format is {fmt!r}, expected "{FORMAT}"')
    version = int(match.group(1))
    if version > FORMAT_VERSION:
        raise UnsupportedFormatVersionError(
            f"this file uses format {fmt}, written by a newer CNN Designer; this version reads {FORMAT}: "
            "update CNN Designer to open it"
        )
    if version < OLDEST_VERSION:
        raise UnsupportedFormatVersionError(
            f"this file uses format {fmt}, older than any this version reads (cnn-designer/{OLDEST_VERSION} "
            f"to {FORMAT})"
        )
    return version


def _read_outputs(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FormatError("'outputs' must be a list of node ids")
    return [canonical_ref(v) for v in value]


def _read_node(raw: Any, i: int, handler: ErrorHandler) -> Node:
    where = f"nodes[{i}]"
    if not isinstance(raw, dict):
        raise FormatError(f"{where} must be an object, not {_json_type(raw)}")
    for key in ("id", "type"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise FormatError(f"{where} needs a non-empty string '{key}'")
    params = raw.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise FormatError(f"{where} ('{raw['id']}'): 'params' must be an object, not {_json_type(params)}")
    inputs = raw.get("inputs", [])
    if inputs is None:
        inputs = []
    if not isinstance(inputs, list) or not all(isinstance(s, str) for s in inputs):
        raise FormatError(f"{where} ('{raw['id']}'): 'inputs' must be a list of node ids")
    node = Node(NodeId(raw["id"]), raw["type"], dict(params), [canonical_ref(s) for s in inputs])
    for key, value in raw.items():
        if key in ("id", "type", "params", "inputs"):
            continue
        if key in NODE_FIELDS and _field_ok(key, value):
            setattr(node, key, tuple(value) if key == "pos" else value)
        else:
            if key in NODE_FIELDS:
                handler(
                    dg.warning(
                        "node.bad_field",
                        f"node '{node.id}': '{key}' has an unusable value "
                        f"{json.dumps(value)[:40]}; it is kept but ignored",
                        node.id,
                        _FIELD_HINTS[key],
                    )
                )
            node.extra[key] = value
    return node


_FIELD_HINTS = {
    "label": "make label a string",
    "pos": "make pos a pair of numbers [x, y]",
    "frozen": "make frozen true or false",
    "lr_mult": "make lr_mult a number >= 0",
}


def _field_ok(key: str, value: Any) -> bool:
    if key == "label":
        return isinstance(value, str)
    if key == "pos":
        return isinstance(value, list) and len(value) == 2 and all(_finite(v) for v in value)
    if key == "frozen":
        return isinstance(value, bool)
    return _finite(value) and value >= 0  # lr_mult


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _free_id(base: str, taken: dict[NodeId, Node]) -> NodeId:
    k = 2
    while f"{base}_{k}" in taken:
        k += 1
    return NodeId(f"{base}_{k}")


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


# -- writing --------------------------------------------------------------------------------------------------------


def to_dict(graph: Graph) -> dict[str, Any]:
    """The project as JSON-ready data, keys in the canonical order."""
    data: dict[str, Any] = {"format": FORMAT, "name": graph.name}
    if "description" in graph.extra:
        data["description"] = graph.extra["description"]
    data["nodes"] = [node_to_dict(n) for n in graph]
    if graph.outputs is not None:
        data["outputs"] = list(graph.outputs)
    for key, value in graph.extra.items():
        if key not in _TOP_KEYS:
            data[key] = value
    return data


def node_to_dict(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"id": node.id, "type": node.type}
    if node.label is not None:
        out["label"] = node.label
    if node.params:
        out["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in node.params.items()}
    if node.inputs:
        out["inputs"] = list(node.inputs)
    if node.pos is not None:
        out["pos"] = list(node.pos)
    if node.frozen:
        out["frozen"] = True
    if node.lr_mult is not None:
        out["lr_mult"] = node.lr_mult
    for key, value in node.extra.items():
        out.setdefault(key, value)
    return out


def dumps(graph: Graph) -> str:
    """Canonical text: two-space indent, one node per line, so diffs show one changed node as one changed line."""
    data = to_dict(graph)
    lines = ["{"]
    items = list(data.items())
    for k, (key, value) in enumerate(items):
        comma = "," if k < len(items) - 1 else ""
        if key == "nodes" and value:
            body = ",\n".join("    " + _compact(n) for n in value)
            lines.append(f'  "nodes": [\n{body}\n  ]{comma}')
        elif isinstance(value, (dict, list)) and value and key != "outputs":
            nested = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            lines.append(f"  {json.dumps(key)}: {nested}{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {_compact(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), allow_nan=False)


def save(graph: Graph, path: str | os.PathLike[str]) -> None:
    """Write the project atomically: a temporary file in the same folder, flushed, then renamed over the target."""
    write_atomic(path, dumps(graph).encode("utf-8"))


#: A temporary file of an interrupted save is removed by the next save or open once it is this old (seconds);
#: younger ones may belong to a save still running in another process.
STALE_TEMP_S = 60.0


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old file or the new one, never a mix.

    Through a symbolic link the file it points to is replaced and the link kept; the file keeps its permissions.
    """
    import tempfile  # here: validate and summary read files and never write one (tempfile loads random, shutil, ...)

    target = Path(os.path.realpath(path))
    remove_stale_temps(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temps(target: str | os.PathLike[str]) -> None:
    """Delete what interrupted saves of ``target`` left beside it (``.<name>.<random>.tmp``, older than a minute)."""
    target = Path(target)
    prefix, now = f".{target.name}.", time.time()
    try:  # a plain scan, not a glob: every open pays for this, and a glob compiles a pattern first
        names = [e.name for e in os.scandir(target.parent)]
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp") and len(name) >= len(prefix) + 4):
            continue
        leftover = target.parent / name
        try:
            if now - leftover.stat().st_mtime > STALE_TEMP_S:
                leftover.unlink()
        except OSError:  # gone already, or a folder we may read but not write: nothing to clean then
            pass
