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
