"""The last lines of ``qdqtool merge``: the status line (PASSED / FAILED / UNCHECKED / DRY RUN) and, when the
numeric check failed, what to try next."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type hints only
    from qdqtool.jobs.merge import MergeOutcome


def failure_hint(outcome: MergeOutcome) -> str:
    """What to try when the numeric check fails, from what the merge did."""
    unified = {a.group for a in outcome.result.unified}
    if not unified and outcome.fixes:
        return ("the placement fixes alone moved the outputs: the new Q/DQ quantize tensors with parameters "
                "calibrated for another reader; check with real data (--inputs data.npz), or --no-verify to write it")
    ratios = [g.ratio for g in outcome.result.analysis.groups if g.id in unified]
    widest = max(ratios, default=1.0)
    if widest >= 2:
        return (f"the widest unified group spans a scale ratio of {widest:.3g}: lower --max-scale-ratio below it to "
                "leave such groups alone, or --no-verify to write the model anyway")
    data = "" if outcome.request.inputs is not None else "check with real data (--inputs images/ or data.npz), "
    return f"the unified groups are close in scale (ratio <= {widest:.3g}): {data}or --no-verify to write it anyway"


def status_line(outcome: MergeOutcome) -> str:
    """``PASSED | 6 group(s) unified, 0 refused | worst cosine 0.997051 | wrote out.onnx`` and its variants."""
    result = outcome.result
    if not result.analysis.has_qdq:
        return "PASSED | nothing to do"
    changed = f"{len(result.unified)} group(s) unified, {len(result.refused)} refused"
    if outcome.request.fixes:
        changed += f", {len(outcome.fixes)} placement fix(es)"
    if outcome.request.dry_run:
        return f"DRY RUN | {changed}; nothing written"
    check = outcome.check
    checked = "" if check is None else f" | {check.summary()}"
    if not outcome:
        return f"FAILED | {changed}{checked}"
    where = f" | wrote {outcome.written[0]}" if outcome.written else ""
    if not outcome.request.verify and outcome.changed:  # nothing was checked: do not call it a pass
        return f"UNCHECKED | {changed} | numeric check skipped (--no-verify){where}"
    return f"PASSED | {changed}{checked}{where}"
