"""Option sets shared by several commands (click decorators), so each is spelled and documented once."""

from __future__ import annotations

import click

from qdqtool.analysis.rules import available_targets


def target_option(f):
    return click.option(
        "--target", "-t", default=None, metavar="NAME|FILE",
        help=f"Backend rules: {', '.join(available_targets())} or a rules .toml file. Default: tensorrt.",
    )(f)


def max_scale_ratio_option(f):
    return click.option(
        "--max-scale-ratio", type=click.FloatRange(min=1.0), default=None,
        help="Refuse groups whose largest/smallest scale exceeds this (default: the target's, 16).",
    )(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")(f)


# --- engine reports (inspect, diff) ---------------------------------------------------------------------------------


def markdown_option(f):
    return click.option("--markdown", "as_markdown", is_flag=True,
                        help="Print Markdown (e.g. for a pull-request comment) instead of tables.")(f)


def report_file_option(f):
    return click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default=None,
                         help="Write the report to this file (atomically) instead of printing it.")(f)


def opt_profile_option(f):
    return click.option("--opt-profile", type=click.IntRange(min=0), default=None, metavar="N",
                        help="Optimization profile of a multi-profile engine (layers named '... [profile N]'). "
                             "Default: the one the profile JSON timed, else 0.")(f)
