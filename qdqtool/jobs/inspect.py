"""The ``inspect`` and ``diff`` jobs: read engine reports (files, folders, plans) and summarise or diff them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qdqtool.engine.diff import EngineDiff, diff_engines
from qdqtool.engine.load import engine_report_from_path
from qdqtool.engine.report import EngineReport
from qdqtool.engine.summary import EngineSummary, summarize


@dataclass
class Inspection:
    report: EngineReport
    summary: EngineSummary


def inspect_engine(engine: Path, profile: Path | None = None, timing: Path | None = None,
                   opt_profile: int | None = None) -> Inspection:
    """Read one engine (layer JSON, folder or plan) and summarise it.

    Args:
        engine (Path): What to read.
        profile (Path): Per-layer profile JSON. Defaults to None (the one in a folder, if any).
        timing (Path): Per-inference times. Defaults to None (the one in a folder, if any).
        opt_profile (int): Optimization profile of a multi-profile engine. Defaults to None.
    """
    report = engine_report_from_path(engine, profile=profile, timing=timing, opt_profile=opt_profile)
    return Inspection(report=report, summary=summarize(report))


def diff(before: Path, after: Path, before_profile: Path | None = None, after_profile: Path | None = None,
         before_timing: Path | None = None, after_timing: Path | None = None, opt_profile: int | None = None,
         time_tolerance: float | None = None) -> EngineDiff:
    """Read two engines of one network and pair their layers (see :func:`qdqtool.engine.diff.diff_engines`).

    Args:
        before, after (Path): The engines (layer JSON, folders or plans).
        before_profile, after_profile, before_timing, after_timing (Path): Their profile and timing JSON.
            Default to None.
        opt_profile (int): Optimization profile of multi-profile engines. Defaults to None.
        time_tolerance (float): Relative time change counted as none. Defaults to the diff's own (2%).
    """
    report_before = engine_report_from_path(before, before_profile, before_timing, opt_profile)
    report_after = engine_report_from_path(after, after_profile, after_timing, opt_profile)
    return diff_engines(report_before, report_after, time_tolerance=time_tolerance)
