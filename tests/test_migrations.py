"""Format versions: every older version's fixture migrates to exactly what the current version reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from designer.model import fileformat, migrations
from designer.model.fileformat import FORMAT_VERSION, UnsupportedFormatVersionError, dumps, loads

FIXTURES = Path(__file__).parent / "fixtures" / "formats"


def _fixtures() -> dict[int, Path]:
    found = {}
    for path in FIXTURES.glob("v*.json"):
        match = re.fullmatch(r"v(\d+)\.json", path.name)
        assert match, f"{path.name}: fixtures are named v<version>.json"
        found[int(match.group(1))] = path
    return found


def test_every_version_has_a_fixture_and_every_step_a_migration():
    assert sorted(_fixtures()) == list(range(migrations.OLDEST_VERSION, FORMAT_VERSION + 1))
    assert sorted(migrations.MIGRATIONS) == list(range(migrations.OLDEST_VERSION, FORMAT_VERSION))


@pytest.mark.parametrize("version", sorted(_fixtures()))
def test_each_version_reads_as_the_current_fixture(version: int):
    """All fixtures are one design, each in its version: migrated, each must save as the newest one does."""
    current = dumps(loads(_fixtures()[FORMAT_VERSION].read_text(encoding="utf-8")))
    text = _fixtures()[version].read_text(encoding="utf-8")
    assert json.loads(text)["format"] == f"cnn-designer/{version}"
    assert dumps(loads(text)) == current


def test_the_current_fixture_uses_every_field_of_the_format():
    graph = loads(_fixtures()[FORMAT_VERSION].read_text(encoding="utf-8"))
    node_fields = {name for node in graph for name in ("label", "pos", "frozen", "lr_mult") if getattr(node, name)}
    assert node_fields == {"label", "pos", "frozen", "lr_mult"}
    assert any(node.extra for node in graph) and {"description", "training"} <= set(graph.extra)


def test_migrations_run_in_order_up_to_the_current_version(monkeypatch: pytest.MonkeyPatch):
    """The chain itself, on a made-up history: version 1 called it 'layers', 2 'blocks', 3 'nodes'."""
    old = {"format": "cnn-designer/1", "name": "old", "layers": [{"id": "input", "type": "Input"}]}
    table = {
        1: lambda d: {**{k: v for k, v in d.items() if k != "layers"}, "blocks": d["layers"]},
        2: lambda d: {**{k: v for k, v in d.items() if k != "blocks"}, "nodes": d["blocks"]},
    }
    monkeypatch.setattr(fileformat, "FORMAT_VERSION", 3)
    monkeypatch.setattr(migrations, "MIGRATIONS", table)
    monkeypatch.setattr(fileformat, "migrate", lambda d, v, c: migrations.migrate(d, v, c, table))
    graph = fileformat.from_dict(old)
    assert [n.id for n in graph] == ["input"] and "layers" not in graph.extra and "blocks" not in graph.extra
    with pytest.raises(LookupError, match="from format version 3 to 4"):
        migrations.migrate(old, 3, 5, table)


@pytest.mark.parametrize(
    ("fmt", "error"),
    [
        ("cnn-designer/0", UnsupportedFormatVersionError),
        (f"cnn-designer/{FORMAT_VERSION + 1}", UnsupportedFormatVersionError),
        ("cnn-designer/" + "9" * 5000, fileformat.FormatError),
    ],
)
def test_versions_out_of_reach_are_refused_with_their_own_error(fmt: str, error: type[Exception]):
    with pytest.raises(error):
        loads(json.dumps({"format": fmt, "nodes": []}))
