"""examples/: the GitHub Actions workflow and the pre-commit hooks are valid and really run `qdqtool check`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qdqtool.gate.config import load_config

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
WORKFLOW = EXAMPLES / "github-actions" / "qdqtool-check.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"  # at the repository root, where pre-commit looks for it
PRE_COMMIT_CONFIG = EXAMPLES / "pre-commit" / ".pre-commit-config.yaml"
EXAMPLE_MODEL = REPO / "qdqtool" / "examples" / "yolov6_qat.onnx"


def _this_checkouts_qdqtool(folder: Path) -> dict[str, str]:
    """Environment whose ``qdqtool`` command runs this checkout with this interpreter (whatever else is installed),
    as the workflow and the hook call it by name."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "qdqtool"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m qdqtool "$@"\n')
    shim.chmod(0o755)
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": pythonpath}


def _yaml():
    return pytest.importorskip("yaml", reason="PyYAML (installed with the pre-commit test dependency)")


def _run(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=120)


def test_workflow_is_a_valid_github_workflow(tmp_path):
    pytest.importorskip("check_jsonschema", reason="check-jsonschema (test dependency) ships the workflow schema")
    check = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
    ok = _run([*check, str(WORKFLOW)], tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"))
    assert _run([*check, str(broken)], tmp_path).returncode != 0, "the schema check must be able to fail"


def test_workflow_steps_run_and_gate(tmp_path):
    """Run every `run:` step of the workflow (but the install) in a checkout-like folder, as the runner would."""
    workflow = _yaml().safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    model = tmp_path / job["env"]["MODEL"]
    model.parent.mkdir(parents=True)
    shutil.copyfile(EXAMPLE_MODEL, model)
    summary = tmp_path / "summary.md"
    env = {**job["env"], "GITHUB_STEP_SUMMARY": str(summary), **_this_checkouts_qdqtool(tmp_path)}
    steps = [s for s in job["steps"] if "run" in s and not s["run"].startswith("pip install")]
    assert len(steps) == 4
    for step in steps:
        done = _run(["bash", "-e", "-c", step["run"]], tmp_path, env)
        assert done.returncode == 0, (step["name"], done.stdout, done.stderr)
    assert summary.read_text().startswith("## qdqtool check: PASSED")
    assert (tmp_path / "qdqtool.sarif").is_file()
    gate = next(s for s in steps if "--format github" in s["run"])
    unmerged = _run(["bash", "-c", gate["run"].replace("$MERGED", "$MODEL")], tmp_path, env)
    assert unmerged.returncode == 1 and "::error file=" in unmerged.stdout


def test_pre_commit_definitions_are_valid(tmp_path):
    pytest.importorskip("pre_commit", reason="pre-commit (test dependency) validates its own files")
    for command, path in (("validate-manifest", HOOKS), ("validate-config", PRE_COMMIT_CONFIG)):
        done = _run([sys.executable, "-m", "pre_commit", command, str(path)], tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "hooks.yaml"
    broken.write_text(HOOKS.read_text().replace("entry: qdqtool check\n", ""))
    assert _run([sys.executable, "-m", "pre_commit", "validate-manifest", str(broken)], tmp_path).returncode != 0


def test_local_hook_runs_the_published_hook_command():
    yaml = _yaml()
    (published,) = yaml.safe_load(HOOKS.read_text())
    (repo,) = yaml.safe_load(PRE_COMMIT_CONFIG.read_text())["repos"]
    (local,) = repo["hooks"]
    for key in ("id", "entry", "files", "types"):
        assert local[key] == published[key], key


def test_pre_commit_hook_passes_clean_models_and_blocks_mismatched_ones(tmp_path):
    pytest.importorskip("pre_commit", reason="pre-commit (test dependency) runs the hook")
    import onnx

    from tests.fixtures.registry import get

    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copyfile(PRE_COMMIT_CONFIG, repo / ".pre-commit-config.yaml")
    env = {"PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           **_this_checkouts_qdqtool(tmp_path)}
    assert _run(["git", "init", "-q"], repo, env).returncode == 0
    onnx.save(get("yolov6_qat_int8_consistent").build(), str(repo / "good.onnx"))
    (repo / "notes.txt").write_text("not a model\n")
    _run(["git", "add", "."], repo, env)
    hook = [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"]
    passed = _run(hook, repo, env)
    assert passed.returncode == 0 and "qdqtool check" in passed.stdout and "Passed" in passed.stdout, passed.stdout
    onnx.save(get("yolov6_qat_int8").build(), str(repo / "bad.onnx"))
    _run(["git", "add", "bad.onnx"], repo, env)
    failed = _run(hook, repo, env)
    assert failed.returncode == 1 and "Failed" in failed.stdout, failed.stdout
    assert "QDQ101" in failed.stdout and "FAILED | 3 finding(s) fail the gate" in failed.stdout, failed.stdout


def test_example_config_is_valid():
    config = load_config(EXAMPLES / "qdqtool.toml")
    assert config.fail_on == "error" and config.waivers and config.waivers[0].rule == "QDQ201"
    assert config.rules["QDQ202"].options == {"max-share": 5.0}
