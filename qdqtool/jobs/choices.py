"""What the command-line options may name: targets, policies, placement fixes, backends.

Read from the layers that define them, so a new rules file, policy, fix or backend shows up in ``--help`` without
touching the CLI.
"""

from __future__ import annotations


def targets() -> list[str]:
    from qdqtool.analysis.rules import available_targets

    return available_targets()


def policies() -> tuple[str, ...]:
    from qdqtool.surgery.policy import POLICIES

    return (*POLICIES, "min-error")  # min-error: measured on the data by merge (qdqtool.verify.group_judge)


def fixes() -> list[str]:
    from qdqtool.surgery.fp16 import FIX as FP16
    from qdqtool.surgery.placement import FIXES

    return sorted([*FIXES, FP16])  # fp16 runs after the merge, on the predictor's float layers (jobs.merge)


def backends() -> dict[str, str]:
    """Backend name -> its one-line summary, in registry order."""
    from qdqtool.engine.backends import BACKENDS

    return {b.name: b.summary for b in BACKENDS.values()}


def presets() -> list[str]:
    """The image preprocessing presets."""
    from qdqtool.io.data.images import PRESETS

    return sorted(PRESETS)
