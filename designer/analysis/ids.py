"""Node ids that can become Python names: a dotted id is a module path in the compiled model and in generated code,
so each part must be an identifier that nothing in ``nn.Module`` or the generated forward already means."""

from __future__ import annotations

import keyword
import re

from ..model import diagnostics as dg
from ..model.diagnostics import Diagnostic
from ..model.graph import Graph

#: Attribute names of ``nn.Module`` and ``fx.GraphModule``: a node id segment with one of these names would shadow
#: the method when the id becomes a submodule name. A test checks this list against torch.
MODULE_ATTRS = frozenset(
    """
T_destination add_module add_submodule apply bfloat16 buffers call_super_init children code compile cpu cuda
delete_all_unused_submodules delete_submodule double dump_patches eval extra_repr float forward get_buffer
get_extra_state get_parameter get_submodule graph half ipu load_state_dict modules mtia named_buffers named_children
meta named_modules named_parameters parameters print_readable recompile register_backward_hook register_buffer
register_forward_hook register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module register_parameter
register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory
shape_env state_dict to to_empty to_folder train training type xpu zero_grad
""".split()
)

#: Names the generated code needs for itself: a node called ``self`` shadows the module in the compiled forward
#: ("'Tensor' object has no attribute ..."); the validator accepted it and compiling failed.
RESERVED_NAMES = frozenset({"self"})

#: Names a part may not have: nn.Module's attributes, the generated code's own names and Python's keywords.
_TAKEN = MODULE_ATTRS | RESERVED_NAMES | frozenset(keyword.kwlist)

#: A name, or a number; names may join words with '-' as torchvision's RegNet names its blocks (``block1-0``), so
#: that an imported model keeps its module names and its state_dict keys.
_SEGMENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*|[0-9]+")


#: Groups nest at most this deep: torchvision's deepest module paths have 5 parts, while torch, the exporters and
#: Python's recursion limit give out somewhere past a few hundred (a 1000-part id was a RecursionError at compile).
MAX_ID_DEPTH = 32


def check_ids(graph: Graph, out: list[Diagnostic]) -> None:
    """Report ids that cannot be module paths: bad or reserved parts, too deep, or a node that is also a group."""
    ids: set[str] = set(graph.ids())
    checked: dict[str, bool] = {}  # parts repeat across a design's ids ('conv1' in every block)
    whole = _SEGMENT.fullmatch
    for node_id in graph.ids():
        if whole(node_id) and node_id not in _TAKEN:
            continue  # one valid part: no group to clash with, not too deep
        _check_id(node_id, ids, checked, out)


def _valid(seg: str, checked: dict[str, bool]) -> bool:
    ok = checked.get(seg)
    if ok is None:
        ok = checked[seg] = valid_segment(seg)
    return ok


def _check_id(node_id: str, ids: set[str], checked: dict[str, bool], out: list[Diagnostic]) -> None:
    depth = node_id.count(".") + 1
    if depth > MAX_ID_DEPTH:
        out.append(
            dg.error(
                "graph.id_too_deep",
                f"node id '{node_id[:60]}...' nests {depth} groups deep; at most {MAX_ID_DEPTH} are allowed",
                node_id,
                f"use at most {MAX_ID_DEPTH - 1} dots in an id (e.g. 'stage1.block2.conv')",
            )
        )
        return
    parts = node_id.split(".")
    bad = [s for s in parts if not _valid(s, checked)]
    if bad:
        out.append(_bad_id(node_id, bad[0], ids))
    parent = node_id.rsplit(".", 1)[0] if "." in node_id else None
    while parent:
        if parent in ids:
            out.append(
                dg.error(
                    "graph.id_conflict",
                    f"node id '{parent}' is also the group of '{node_id}'",
                    parent,
                    f"rename '{parent}' (e.g. '{parent}_out') so a group and a node do not share a name",
                )
            )
        parent = parent.rsplit(".", 1)[0] if "." in parent else None


def _bad_id(node_id: str, seg: str, ids: set[str]) -> Diagnostic:
    why = (
        "is a reserved name"
        if seg in MODULE_ATTRS or seg in RESERVED_NAMES or keyword.iskeyword(seg)
        else "must be a name (letters, digits, _, inner -) or a number"
    )
    fixed = ".".join(re.sub(r"\W", "_", s).lstrip("_") or "n" for s in node_id.split("."))
    return dg.error(
        "graph.bad_id",
        f"node id '{node_id}': part '{seg}' {why}",
        node_id,
        f"rename it, e.g. to '{fixed}_'"
        if fixed in ids or seg in MODULE_ATTRS or seg in RESERVED_NAMES
        else f"rename it, e.g. to '{fixed}'",
    )


def valid_segment(seg: str) -> bool:
    """Whether ``seg`` can be one dotted part of a node id: an identifier that no ``nn.Module`` attribute shadows."""
    return bool(_SEGMENT.fullmatch(seg)) and seg not in _TAKEN
