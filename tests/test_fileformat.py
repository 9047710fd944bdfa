"""The project file format: the contract that templates, tools and tests read."""

from __future__ import annotations

import json
import os
import time

import pytest

from designer.model import fileformat
from designer.model.fileformat import (
    FORMAT_VERSION,
    FormatError,
    ProjectError,
    UnsupportedFormatVersionError,
    dumps,
    load,
    loads,
    save,
)


def test_example_reads_as_documented(example_text):
    g = loads(example_text)
    assert g.name == "Small CNN"
    assert g.ids() == ["input", "conv1", "relu1", "pool1", "flat", "fc"]
    assert g["conv1"].params == {"out_channels": 32, "kernel_size": 3}
    assert g["conv1"].inputs == ["input"]
    assert g.outputs == ["fc"]


def test_canonical_text_round_trips_byte_for_byte(example_text):
    assert dumps(loads(example_text)) == example_text
    again = dumps(loads(dumps(loads(example_text))))
    assert again == example_text


def test_unknown_fields_survive_load_and_save():
    data = {
        "format": "cnn-designer/2",
        "name": "x",
        "description": "d",
        "training": {"epochs": 3},
        "zz_tool": [1, 2],
        "nodes": [
            {
                "id": "in",
                "type": "Input",
                "params": {"shape": [3]},
                "pos": [1.5, 2],
                "frozen": True,
                "lr_mult": 0.1,
                "label": "the input",
                "color": "#ff0000",
                "meta": {"a": 1},
            }
        ],
    }
    out = json.loads(dumps(loads(json.dumps(data))))
    assert out == data


def test_optional_node_fields_are_typed():
    g = loads(
        json.dumps(
            {
                "format": "cnn-designer/2",
                "nodes": [
                    {
                        "id": "a",
                        "type": "Input",
                        "params": {"shape": [3]},
                        "pos": [10, 20],
                        "frozen": True,
                        "lr_mult": 2,
                    }
                ],
            }
        )
    )
    node = g["a"]
    assert node.pos == (10, 20) and node.frozen is True and node.lr_mult == 2


def test_bad_optional_field_is_kept_and_reported():
    problems = []
    text = json.dumps(
        {
            "format": "cnn-designer/2",
            "nodes": [{"id": "a", "type": "Input", "params": {"shape": [3]}, "pos": "left", "frozen": "yes"}],
        }
    )
    g = loads(text, error_handler=problems.append)
    assert [p.code for p in problems] == ["node.bad_field", "node.bad_field"]
    assert g["a"].pos is None and g["a"].frozen is False
    assert json.loads(dumps(g))["nodes"][0]["pos"] == "left"  # never lose what the user wrote


def test_newer_format_is_refused_with_its_own_error():
    with pytest.raises(UnsupportedFormatVersionError, match="newer"):
        loads(json.dumps({"format": f"cnn-designer/{FORMAT_VERSION + 1}", "nodes": []}))


@pytest.mark.parametrize(
    "text, needle",
    [
        ("", "not valid JSON"),
        ('{"format": "cnn-designer/2", "nodes": [', "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"nodes": []}', "no 'format'"),
        ('{"format": "keras/2", "nodes": []}', "not a CNN Designer project"),
        ('{"format": "cnn-designer/2"}', "no 'nodes'"),
        ('{"format": "cnn-designer/2", "nodes": {}}', "must be a list"),
        ('{"format": "cnn-designer/2", "nodes": [3]}', "nodes[0] must be an object"),
        ('{"format": "cnn-designer/2", "nodes": [{"id": "a"}]}', "'type'"),
        ('{"format": "cnn-designer/2", "nodes": [{"id": 1, "type": "ReLU"}]}', "'id'"),
        ('{"format": "cnn-designer/2", "nodes": [{"id": "a", "type": "ReLU", "inputs": "b"}]}', "'inputs'"),
        ('{"format": "cnn-designer/2", "nodes": [{"id": "a", "type": "ReLU", "params": [1]}]}', "'params'"),
        ('{"format": "cnn-designer/2", "nodes": [], "outputs": "a"}', "'outputs'"),
        ('{"format": "cnn-designer/2", "name": 3, "nodes": []}', "'name'"),
        ('{"format": "cnn-designer/2", "nodes": [{"id": "a", "type": "Dropout", "params": {"p": NaN}}]}', "NaN"),
        (
            '{"format": "cnn-designer/2", "nodes": [{"id": "a", "type": "Dropout", "params": {"p": 1e999}}]}',
            "too large",
        ),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_files_give_a_clear_error(text, needle):
    with pytest.raises(FormatError, match=None) as info:
        loads(text)
    assert needle in str(info.value)


def test_unreadable_file_is_a_project_error(tmp_path):
    with pytest.raises(ProjectError, match="cannot read"):
        load(tmp_path / "missing.json")
    (tmp_path / "latin1.json").write_bytes(b'{"name": "\xe9"}')
    with pytest.raises(FormatError, match="byte 10 is not UTF-8 text"):
        load(tmp_path / "latin1.json")


@pytest.mark.parametrize(
    ("name", "data", "what"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00", "a PNG image"),
        ("photo.json", b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
        ("best.pt", b"PK\x03\x04\x14\x00", "a ZIP archive, as PyTorch checkpoints (.pt) are"),
        ("model.onnx", b"\x08\x07\x12\x07pytorch", "an ONNX model"),
        ("new.json", b"  \n", "an empty file"),
    ],
)
def test_a_file_that_is_not_a_design_is_named_for_what_it_is(tmp_path, name, data, what):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(FormatError) as info:
        load(tmp_path / name)
    message = str(info.value)
    assert message.startswith(f"this is {what}, not a CNN Designer design")
    assert "; " in message, "it says what to do instead"


def test_a_json_error_names_the_place_in_plain_words():
    with pytest.raises(FormatError) as info:
        loads('{\n  "format": "cnn-designer/2",\n  "name": "unfinished')
    assert str(info.value).startswith("not valid JSON at line 3, column 11: Unterminated string starting there")


def test_duplicate_ids_are_renamed_and_reported():
    problems = []
    text = json.dumps(
        {
            "format": "cnn-designer/2",
            "nodes": [
                {"id": "a", "type": "Input", "params": {"shape": [3]}},
                {"id": "a", "type": "ReLU", "inputs": ["a"]},
            ],
        }
    )
    g = loads(text, error_handler=problems.append)
    assert g.ids() == ["a", "a_2"]
    assert [(p.code, p.node_id) for p in problems] == [("graph.duplicate_id", "a_2")]
    with pytest.raises(FormatError, match="repeats id"):
        loads(text)  # without a handler, the first content problem stops the load


def test_save_is_atomic_and_keeps_the_old_file_on_failure(tmp_path, example_text, monkeypatch):
    path = tmp_path / "p.json"
    g = loads(example_text)
    save(g, path)
    assert path.read_text(encoding="utf-8") == example_text
    g.set_name("Renamed")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        save(g, path)
    assert path.read_text(encoding="utf-8") == example_text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]  # no temporary file left behind


def test_non_ascii_names_are_written_as_utf8(tmp_path):
    g = loads('{"format": "cnn-designer/2", "name": "Réseau ✓", "nodes": []}')
    save(g, tmp_path / "u.json")
    assert "Réseau ✓" in (tmp_path / "u.json").read_text(encoding="utf-8")
    assert load(tmp_path / "u.json").name == "Réseau ✓"


def test_format_constant_matches_docs():
    docs = fileformat.__file__.rsplit("designer", 1)[0] + "docs/format.md"
    assert fileformat.FORMAT in open(docs, encoding="utf-8").read()


def test_docs_list_every_layer_type():
    from designer.layers.registry import list_types

    docs = open(fileformat.__file__.rsplit("designer", 1)[0] + "docs/format.md", encoding="utf-8").read()
    missing = [t for t in list_types() if f"| `{t}` |" not in docs]
    assert missing == [], f"docs/format.md lacks {missing}"


def test_saving_through_a_symlink_replaces_the_target_and_keeps_the_link_and_permissions(tmp_path, example_text):
    real = tmp_path / "designs" / "real.json"
    real.parent.mkdir()
    real.write_text(example_text, encoding="utf-8")
    os.chmod(real, 0o600)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    graph = loads(example_text)
    graph.set_name("renamed")
    save(graph, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert load(real).name == "renamed" and real.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.json"], "no temporary file is left"


def test_an_interrupted_saves_temporary_file_is_cleaned_by_the_next_save_or_open(tmp_path, example_text):
    target = tmp_path / "design.json"
    target.write_text(example_text, encoding="utf-8")
    stale, fresh = tmp_path / ".design.json.k1ll3d.tmp", tmp_path / ".design.json.running.tmp"
    other = tmp_path / ".other.json.k1ll3d.tmp"
    for leftover in (stale, fresh, other):
        leftover.write_bytes(b"{half a design")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    load(target)
    assert not stale.exists() and fresh.exists(), "an old leftover goes; a young one may be a save in progress"
    assert other.exists(), "only the leftovers of this file"
    os.utime(fresh, (hour_ago, hour_ago))
    save(loads(example_text), target)
    assert not fresh.exists()


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace('"cnn-designer/2"', '"cnn-designer/' + "1" * 5000 + '"'),  # a 5000-digit version
        lambda t: t.replace('"out_channels": 32', '"out_channels": ' + "9" * 5000),  # past int()'s digit limit
        lambda t: t.replace('"name": "Small CNN"', '"name": "a\\ud800b"'),  # a lone surrogate, written as an escape
        lambda t: t.replace('"id": "fc"', '"id": "f\\udfffc"'),
    ],
)
def test_what_cannot_be_represented_is_unreadable_at_load(edit, tmp_path, example_text, capsys):
    """These were ValueError/OverflowError/UnicodeEncodeError tracebacks, some only at the next save (issue 13)."""
    from designer.cli import main

    text = edit(example_text)
    assert text != example_text
    path = tmp_path / "d.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProjectError):
        load(path)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
