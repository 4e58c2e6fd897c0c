"""Rules files: the shipped targets load, and a broken file is one clear error."""

from __future__ import annotations

import pytest

from qdqtool.analysis.rules import available_targets, load_rules
from qdqtool.errors import BadInputError


def test_shipped_targets():
    assert {"tensorrt", "onnxruntime-cpu"} <= set(available_targets())
    trt = load_rules()
    assert trt.name == "tensorrt" and trt.symmetric
    assert {"concat", "move-through", "fan-out", "residual-add"} <= {r.id for r in trt.rules}
    issue_ops = {"MaxPool", "Resize", "Reshape", "Transpose", "Slice", "Split", "Flatten", "Squeeze", "Unsqueeze",
                 "Identity", "Pad"}
    assert issue_ops <= set(trt.rule("move-through").ops)
    assert all(r.why for r in trt.rules), "every rule explains itself in the report"
    assert not load_rules("onnxruntime-cpu").symmetric


@pytest.mark.parametrize(
    "text, message",
    [
        ("not = [toml", "not a valid TOML"),
        ("[[rule]]\nid = 'x'\nops = ['Concat']\n", r"missing \[target\]"),
        ("[target]\nname='t'\n[[rule]]\nops = ['Concat']\n", "needs an `id`"),
        ("[target]\nname='t'\n[[rule]]\nid='x'\nops=[]\n", "give `ops`, or `tensor`"),
        ("[target]\nname='t'\n[[rule]]\nid='x'\nops=['Add']\nrequire='sometimes'\n", "`require` must be"),
        ("[target]\nname='t'\n[[rule]]\nid='x'\nops=['Add']\ninputs='some'\n", "`inputs` must be"),
        ("[target]\nname='t'\n[[rule]]\nid='x'\nops=['Add']\n[[rule]]\nid='x'\nops=['Mul']\n", "duplicate rule ids"),
    ],
)
def test_broken_rules_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(BadInputError, match=message) as err:
        load_rules(str(path))
    assert "\n" not in str(err.value)


def test_unknown_target_names_the_choices():
    with pytest.raises(BadInputError, match="tensorrt"):
        load_rules("tensorrt-11")
    with pytest.raises(BadInputError, match="no such rules file"):
        load_rules("/nonexistent/rules.toml")
