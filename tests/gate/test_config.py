"""Configuration (qdqtool.toml, [tool.qdqtool]), per-rule settings, waivers in the config and in the model."""

from __future__ import annotations

import onnx
import pytest

from qdqtool.errors import BadInputError
from qdqtool.gate.config import load_config
from qdqtool.gate.registry import Severity
from qdqtool.io.config import find_config
from tests.gate.helpers import by_rule, ids, lint

WAIVE_P4 = """
[[waive]]
rule = "concat-scale-mismatch"
nodes = ["neck.cat_p4"]
reason = "accepted: the P4 branches keep their own scales (#12)"
"""


def test_qdqtool_toml_beside_the_model_wins_over_pyproject(save, tmp_path):
    model = save("no_qdq")
    (tmp_path / "pyproject.toml").write_text('[tool.qdqtool]\nfail-on = "never"\n')
    assert find_config(model) == tmp_path / "pyproject.toml"
    (tmp_path / "qdqtool.toml").write_text('fail-on = "warning"\n')
    assert find_config(model) == tmp_path / "qdqtool.toml"


def test_nearest_pyproject_without_a_table_stops_the_search(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.qdqtool]\nfail-on = "never"\n')
    sub = tmp_path / "pkg"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(sub / "m.onnx") is None
    assert find_config(tmp_path / "other" / "m.onnx") == tmp_path / "pyproject.toml"


def test_pyproject_settings_apply_and_the_command_line_wins(save, tmp_path):
    model = save("fan_out_int8_siblings")
    (tmp_path / "pyproject.toml").write_text('[tool.qdqtool]\nfail-on = "warning"\n')
    assert not lint(model, use_config=True)  # the fan-out warning fails at fail-on = warning
    run = lint(model, use_config=True, fail_on="error")
    assert run and run.fail_on == "error" and run.config == tmp_path / "pyproject.toml"


def test_severity_override_and_disable(save, tmp_path):
    model = save("yolov6_qat_int8")
    config = tmp_path / "qdqtool.toml"
    config.write_text('[rules.QDQ103]\nseverity = "error"\n[rules.concat-scale-mismatch]\nenabled = false\n')
    run = lint(model, config=config)
    assert "QDQ101" not in ids(run)
    assert {v.severity for v in by_rule(run, "QDQ103")} == {Severity.ERROR}
    status = next(s for s in run.statuses if s.rule.id == "QDQ101")
    assert status.state == "disabled" and "qdqtool.toml" in status.reason
    assert "QDQ101" in ids(lint(model, config=config, enable=("QDQ101",)))
    assert "QDQ103" not in ids(lint(model, disable=("fan-out-scale-mismatch",)))


def test_config_waiver_keeps_the_finding_but_not_the_failure(save, tmp_path):
    model = save("yolov6_qat_int8")
    config = tmp_path / "qdqtool.toml"
    config.write_text(WAIVE_P4)
    run = lint(model, config=config)
    (waived,) = run.waived
    assert waived.rule.id == "QDQ101" and waived.nodes[0] == "neck.cat_p4"
    assert waived.waived.startswith("accepted") and "waive #1" in waived.waived_by
    assert len(run.failing) == 2 and not waived.gates("error")


def test_waiver_patterns_and_unused_waivers(save, tmp_path):
    model = save("yolov6_qat_int8")
    config = tmp_path / "qdqtool.toml"
    config.write_text("""
[[waive]]
rule = "QDQ101"
nodes = ["neck.cat_*", "backbone.sppf.cat"]
reason = "all accepted"
[[waive]]
rule = "QDQ110"
nodes = ["nowhere"]
reason = "stale"
""")
    run = lint(model, config=config)
    assert run and len(run.waived) == 3
    (unused,) = by_rule(run, "QDQ901")
    assert unused.severity is Severity.INFO and "nowhere" in unused.message


def test_inline_waiver_on_the_node(save):
    model = onnx.load(str(save("yolov6_qat_int8")))
    node = next(n for n in model.graph.node if n.name == "neck.cat_p3")
    prop = node.metadata_props.add()
    prop.key, prop.value = "qdqtool.waive", "QDQ101: box rows, checked by hand"
    other = next(n for n in model.graph.node if n.name == "backbone.sppf.cat")
    other.doc_string = "SPPF concat\nqdqtool: waive concat-scale-mismatch: pooled copies of one tensor"
    run = lint(save(model, "inline.onnx"))
    reasons = sorted(v.waived for v in run.waived)
    assert reasons == ["box rows, checked by hand", "pooled copies of one tensor"]
    assert all("node" in v.waived_by for v in run.waived)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('fail_on = "error"\n', "did you mean 'fail-on'"),
        ('fail-on = "sometimes"\n', "is not one of error, warning, never"),
        ('[rules.QDQ999]\nenabled = false\n', "unknown lint rule 'QDQ999'"),
        ('[rules.QDQ101]\nseverity = "fatal"\n', "severity 'fatal' is not one of"),
        ('[rules.QDQ202]\nmax_share = 3\n', "did you mean 'max-share'"),
        ('[[waive]]\nrule = "QDQ101"\nnodes = ["x"]\n', "needs a `reason`"),
        ('[[waive]]\nrule = "QDQ101"\nreason = "r"\n', "give `nodes`"),
        ('max-latency-regression = "fast"\n', "not a percentage"),
        ("max-qdq-layers = -1\n", "non-negative"),
        ("fail-on = \n", "not valid TOML"),
    ],
)
def test_config_errors_name_the_problem(tmp_path, text, message):
    path = tmp_path / "qdqtool.toml"
    path.write_text(text)
    with pytest.raises(BadInputError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_config(path)


def test_inline_waiver_without_reason_is_bad_input(save):
    model = onnx.load(str(save("yolov6_qat_int8")))
    model.graph.node[0].doc_string = "qdqtool: waive QDQ101"
    with pytest.raises(BadInputError, match="must read 'QDQ101: reason'"):
        lint(save(model, "bad.onnx"))


def test_baseline_path_is_relative_to_the_config(tmp_path):
    (tmp_path / "ci").mkdir()
    path = tmp_path / "ci" / "qdqtool.toml"
    path.write_text('baseline = "base.json"\nmax-latency-regression = "2.5%"\n')
    config = load_config(path)
    assert config.baseline == tmp_path / "ci" / "base.json" and config.max_latency_regression == 2.5
