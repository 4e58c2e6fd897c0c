"""compare: the latency verdict on constructed samples, the interleaving, and real onnxruntime comparisons.

Real timings are never asserted to be faster (they are noise on a shared machine); what is asserted is that the
verdict follows from the numbers it reports, and that the Q/DQ counts come from the built engines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from qdqtool.engine import backends
from qdqtool.engine.backends import Backend, BuildOptions
from qdqtool.engine.latency import VERDICTS, interleaved_rounds, judge_latency
from qdqtool.engine.ort_backend import EngineReportFromOrt
from qdqtool.errors import BadInputError
from qdqtool.jobs.compare import CompareRequest, compare
from tests.fixtures import ort_graphs as G

FAST = BuildOptions(warmup=1, iterations=3)


# --- the verdict on constructed numbers ---------------------------------------------------------------------------


def test_clearly_faster():
    verdict = judge_latency([10.0, 10.2, 9.9, 10.1, 10.0], [8.0, 8.1, 7.9, 8.2, 8.0])
    assert verdict.verdict == "faster" and verdict.change == pytest.approx(-0.2)
    assert bool(verdict)


def test_clearly_slower_is_a_regression():
    verdict = judge_latency([10.0, 10.2, 9.9, 10.1, 10.0], [12.0, 12.1, 11.9, 12.2, 12.0])
    assert verdict.verdict == "regression" and not verdict


def test_a_change_within_the_tolerance_is_no_gain():
    verdict = judge_latency([10.0] * 5, [9.8, 9.8, 9.9, 9.8, 9.8], tolerance=0.03)
    assert verdict.verdict == "no gain" and "within the 3% tolerance" in verdict.reason


def test_rounds_that_disagree_are_no_gain_even_with_a_lower_median():
    # median ratio 0.8, but two of five rounds were slower: the upper quartile is above 1
    verdict = judge_latency([10.0] * 5, [8.0, 8.0, 8.0, 13.0, 13.0])
    assert verdict.after.median < verdict.before.median and verdict.verdict == "no gain"
    assert "disagree" in verdict.reason


def test_drift_cancels_in_the_paired_ratios():
    before = [10.0, 12.0, 14.0, 16.0, 18.0]  # the machine slows down during the measurement
    after = [b * 0.9 for b in before]
    assert judge_latency(before, after).verdict == "faster"


def test_too_few_or_unpaired_rounds_are_refused():
    with pytest.raises(ValueError, match="at least 5"):
        judge_latency([1.0] * 4, [1.0] * 4)
    with pytest.raises(ValueError, match="equal lists"):
        judge_latency([1.0] * 5, [1.0] * 6)


def test_the_verdict_never_claims_more_than_the_numbers_show():
    rng = np.random.default_rng(0)
    for _ in range(3000):
        before = list(rng.lognormal(0.0, rng.uniform(0.0, 0.3), size=rng.integers(5, 12)))
        after = list(np.array(before) * rng.lognormal(rng.uniform(-0.2, 0.2), rng.uniform(0.0, 0.3), len(before)))
        v = judge_latency(before, after, tolerance=0.03)
        assert v.verdict in VERDICTS
        if v.verdict == "faster":
            assert v.after.median < v.before.median and v.ratios.median <= 0.97 and v.ratios.q3 < 1
        if v.verdict == "regression":
            assert v.after.median > v.before.median and v.ratios.median >= 1.03 and v.ratios.q1 > 1
        if abs(v.ratios.median - 1) < 0.03:
            assert v.verdict == "no gain"


def _aa_rounds(seed: int, noise: float, disturbed_share: float) -> tuple[list[float], list[float]]:
    """Synthetic A/A rounds: two equally fast models, each round's median wobbling by ``noise`` (lognormal sigma),
    and a share of the rounds slowed by another process taking the core for part of the round."""
    rng = np.random.default_rng(seed)
    rounds = int(rng.integers(5, 12))
    before = 0.05 * rng.lognormal(0.0, noise, rounds)
    after = 0.05 * rng.lognormal(0.0, noise, rounds)
    for side in (before, after):
        hit = rng.random(rounds) < disturbed_share
        side[hit] *= rng.uniform(1.1, 1.6, int(hit.sum()))
    return list(before), list(after)


def test_noise_alone_is_no_gain_and_no_regression():
    """Round medians of compare's default 20 runs wobble by about 1 % on a quiet machine: equally fast models are
    never called faster or slower (400 fixed seeds: deterministic)."""
    for seed in range(400):
        verdict = judge_latency(*_aa_rounds(seed, noise=0.01, disturbed_share=0.0))
        assert verdict.verdict == "no gain", (seed, verdict.reason)


def test_heavy_noise_rarely_fools_the_verdict():
    """Rounds of 3 runs on a loaded machine (3 % wobble, one round in five disturbed): the paired-ratio rule keeps
    false claims to about 1 in 15 (26 of these 400), and each one it makes follows from its numbers. This is why the
    tests never assert a verdict of real timings, and why compare's defaults are 7 rounds of 20 runs."""
    wrong = 0
    for seed in range(400):
        verdict = judge_latency(*_aa_rounds(seed, noise=0.03, disturbed_share=0.2))
        if verdict.verdict != "no gain":
            wrong += 1
            assert abs(verdict.ratios.median - 1) >= 0.05, (seed, verdict.reason)
    assert wrong <= 30, f"{wrong} of 400 equally fast pairs got a verdict"


def test_a_real_gain_is_seen_through_the_noise():
    rng = np.random.default_rng(7)
    before = 0.05 * rng.lognormal(0.0, 0.03, 7)
    after = 0.85 * before * rng.lognormal(0.0, 0.02, 7)  # 15 % fewer kernels' worth of time, paired rounds
    assert judge_latency(list(before), list(after)).verdict == "faster"


class _Recorder:
    def __init__(self, name: str, log: list, ms: float) -> None:
        self.name, self.log, self.ms = name, log, ms

    def time(self, runs: int) -> list[float]:
        self.log.append(self.name)
        return [self.ms] * runs


def test_rounds_are_interleaved_and_alternate_which_goes_first():
    log: list[str] = []
    a, b = interleaved_rounds(_Recorder("A", log, 2.0), _Recorder("B", log, 1.0), rounds=5, iterations=3)
    assert log == ["A", "B", "B", "A", "A", "B", "B", "A", "A", "B"]
    assert a == [2.0] * 5 and b == [1.0] * 5


# --- real onnxruntime comparisons ---------------------------------------------------------------------------------


def _save(tmp_path: Path, model: onnx.ModelProto, name: str) -> Path:
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return path


def _consistent(result) -> None:
    """What the status line and the verdict say follows from the numbers in the result."""
    lat = result.latency
    line = result.status_line()
    assert f"latency {lat.before.median:.3f} -> {lat.after.median:.3f} ms" in line and lat.verdict in line
    if lat.verdict == "faster":
        assert lat.after.median < lat.before.median
    assert bool(result) == (result.numeric_ok and lat.verdict != "regression")


@pytest.mark.parametrize("builder", [G.pool_chain, G.resize_chain, G.reshape_chain])
def test_mismatched_uint8_move_through_ops_leave_fewer_qdq_after_merge(tmp_path, builder):
    result = compare(CompareRequest(model=_save(tmp_path, builder(), "model"), build=FAST, rounds=5))
    before, after = result.qdq_counts
    assert after < before and after == 2  # only the graph's own input Q and output DQ remain
    assert result.target == "onnxruntime-cpu" and result.numeric_ok
    assert result.diff is not None and len(result.diff.qdq_removed) == before - after
    _consistent(result)  # what the verdict is depends on the machine; that it follows from the numbers does not


def test_nothing_to_merge_builds_nothing(tmp_path):
    result = compare(CompareRequest(model=_save(tmp_path, G.concat_mixed(), "concat"), build=FAST))
    assert result.status == "nothing to merge" and bool(result)
    assert result.before is None and result.latency is None and result.diff is None
    assert result.status_line().startswith("PASSED | nothing to merge for onnxruntime-cpu")


def test_the_tensorrt_target_merges_the_concat_that_onnxruntime_does_not_need(tmp_path):
    result = compare(CompareRequest(model=_save(tmp_path, G.concat_mixed(), "concat"), target="tensorrt",
                                    build=FAST, rounds=5))
    assert result.changed and result.target == "tensorrt"
    assert result.qdq_counts[0] == result.qdq_counts[1]  # ONNX Runtime runs both as QLinearConcat
    _consistent(result)


def test_more_qdq_after_the_merge_is_said(tmp_path):
    result = compare(CompareRequest(model=_save(tmp_path, G.fan_out_add("int8"), "m"), build=FAST, rounds=5))
    before, after = result.qdq_counts
    assert after > before and f"MORE standalone Q/DQ layers ({before} -> {after})" in result.notes[0]
    _consistent(result)


def test_keep_holds_every_artefact(tmp_path):
    keep = tmp_path / "kept"
    result = compare(CompareRequest(model=_save(tmp_path, G.pool_chain(), "pool"), build=FAST, rounds=5, keep=keep))
    assert result.artefacts == keep
    assert (keep / "pool.merged.onnx").is_file()
    for side in ("before", "after"):
        assert {p.name for p in (keep / side).iterdir()} == {"optimized.onnx", "profile.json", "engine_report.json"}


def test_a_failed_numeric_check_fails_and_is_still_built(tmp_path):
    result = compare(CompareRequest(model=_save(tmp_path, G.pool_chain(), "pool"), build=FAST, rounds=5,
                                    min_cosine=1.0))
    assert not result.numeric_ok and not result and result.status == "failed"
    assert result.qdq_counts == (6, 2) and "failed the numeric check" in result.notes[0]
    assert "worst cosine" in result.status_line() and "< 1.0" in result.status_line()


def test_fewer_than_five_rounds_are_refused(tmp_path):
    with pytest.raises(BadInputError, match="at least 5"):
        compare(CompareRequest(model=tmp_path / "x.onnx", rounds=4))


# --- other backends through the registry --------------------------------------------------------------------------


class SlowerAfter:
    """A LatencyTimer stand-in: the merged model ("after" folder) takes 20 % longer."""

    def __init__(self, model: Path, output: Path, options: BuildOptions) -> None:
        self.ms = 1.2 if Path(output).name == "after" else 1.0

    def __enter__(self) -> SlowerAfter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def time(self, runs: int) -> list[float]:
        return [self.ms] * runs


def fake_loader(model: Path, output: Path, options: BuildOptions, progress) -> EngineReportFromOrt:
    return EngineReportFromOrt(model, output, options, progress)


@pytest.fixture
def registry(monkeypatch):
    def add(name: str, timer: str | None) -> str:
        monkeypatch.setitem(backends.BACKENDS, name, Backend(
            name=name, summary="test", loader_path=f"{__name__}:fake_loader", timer_path=timer,
            default_target="onnxruntime-cpu"))
        return name

    return add


def test_slower_beyond_the_noise_fails(tmp_path, registry):
    name = registry("slow-after", f"{__name__}:SlowerAfter")
    result = compare(CompareRequest(model=_save(tmp_path, G.pool_chain(), "pool"), backend=name, build=FAST))
    assert result.latency.verdict == "regression" and not result and result.status == "failed"
    assert result.qdq_counts == (6, 2)  # fewer Q/DQ does not excuse a slower model
    assert "+20.0%, regression" in result.status_line()


class FasterAfter(SlowerAfter):
    def __init__(self, model: Path, output: Path, options: BuildOptions) -> None:
        self.ms = 0.8 if Path(output).name == "after" else 1.0


def test_same_layers_are_never_faster_whatever_the_clock_says(tmp_path, registry):
    name = registry("faster-after", f"{__name__}:FasterAfter")
    changed = compare(CompareRequest(model=_save(tmp_path, G.pool_chain(0.05, 0.07), "a"), backend=name, build=FAST))
    assert changed.latency.verdict == "faster"  # other layers: the (here made up) 20 % counts
    # equal scales in separate initializers: merge shares them, but ONNX Runtime runs the very same layers
    same = compare(CompareRequest(model=_save(tmp_path, G.pool_chain(0.05, 0.05), "b"), backend=name, build=FAST))
    assert same.changed and same.qdq_counts == (2, 2)
    assert same.latency.verdict == "no gain" and "same layers" in same.latency.reason
    assert same.latency.change == pytest.approx(-0.2)  # the numbers are still shown as measured


def test_a_backend_without_a_timer_reports_no_latency(tmp_path, registry):
    name = registry("no-timer", None)
    result = compare(CompareRequest(model=_save(tmp_path, G.pool_chain(), "pool"), backend=name, build=FAST))
    assert result.latency is None and bool(result) and "latency not measured" in result.status_line()
    assert "cannot run models" in result.notes[0]


# --- every fixture ------------------------------------------------------------------------------------------------


def _fixtures():
    from tests.fixtures.registry import FIXTURES

    return [pytest.param(f, id=f.name) for f in FIXTURES if f.runs_in_ort]


@pytest.mark.parametrize("fixture", _fixtures())
def test_every_fixture_reports_only_what_its_numbers_show(tmp_path, fixture):
    result = compare(CompareRequest(model=_save(tmp_path, fixture.build(), fixture.name), build=FAST, rounds=5))
    if not result.changed:
        assert result.status == "nothing to merge" and result.latency is None and result.qdq_counts is None
        return
    _consistent(result)
    before, after = result.qdq_counts
    assert (before, after) == (len(result.before.leftover_qdq), len(result.after.leftover_qdq))
    assert f"leftover Q/DQ {before} -> {after}" in result.status_line()
    assert (after > before) == any("MORE standalone Q/DQ" in note for note in result.notes)
    assert result.numeric_ok == bool(result.merge.check is None or result.merge.check)
