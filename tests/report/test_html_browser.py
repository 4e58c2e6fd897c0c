"""The HTML report in a real browser: headless Chromium (Debian's `chromium`) renders it from a file.

The page records on <html> how many drawings and tables the browser laid out (its self-check script); Chromium's
console (logged to stderr) must be silent: the page's Content-Security-Policy turns any attempt to load something
into a console message. A broken copy of the page proves both checks can fail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from qdqtool.jobs.report import ReportRequest, collect_report
from qdqtool.report.html.page import render_html
from tests.gate.helpers import engines_of

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium binary (Debian package `chromium`; .ci/run installs it): the browser test cannot run")


def render(page: Path) -> tuple[str, str]:
    """(DOM after load, Chromium's stderr) for a local HTML file, with a fresh profile folder."""
    with tempfile.TemporaryDirectory(prefix="qdqtool-chromium-") as profile:
        done = subprocess.run([_chromium(), *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def load_failures(stderr: str) -> list[str]:
    """Console messages (CSP violations, script errors) and network errors Chromium logged."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "net::ERR_" in line]


class _Dom(HTMLParser):
    """Counts elements by tag and records ids and <html> attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.ids: dict[str, str] = {}
        self.root: dict[str, str] = {}
        self.figures_with_two_drawings = 0
        self._svgs_in_figure: int | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if "id" in attrs:
            self.ids[attrs["id"]] = tag
        if tag == "html":
            self.root = attrs
        if tag == "figure":
            self._svgs_in_figure = 0
        if tag == "svg" and self._svgs_in_figure is not None:
            self._svgs_in_figure += 1

    def handle_endtag(self, tag):
        if tag == "figure":
            self.figures_with_two_drawings += self._svgs_in_figure == 2
            self._svgs_in_figure = None


def parse(dom: str) -> _Dom:
    parser = _Dom()
    parser.feed(dom)
    return parser


@pytest.fixture(scope="module")
def report_page(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    model = Path(__file__).resolve().parents[2] / "qdqtool" / "examples" / "yolov6_qat.onnx"
    before, after = engines_of(model, folder / "engines", "onnxruntime")  # real per-kernel times
    data = collect_report(ReportRequest(model=model, before=before, after=after))
    page = folder / "report.html"
    page.write_text(render_html(data, "builtin"), encoding="utf-8")
    return page


def test_report_renders_with_tables_and_drawings_and_loads_nothing(report_page):
    text = report_page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text), "the page must not reference the network"
    dom, stderr = render(report_page)
    page = parse(dom)
    assert load_failures(stderr) == []
    assert page.root.get("data-svg-rendered") == "13/13"  # 6 changed groups x (before, after) + the bar chart
    tables = page.tags["table"]
    assert tables >= 5 and page.root.get("data-tables-rendered") == f"{tables}/{tables}"
    for element_id, tag in (("groups-table", "table"), ("engine-totals", "table"), ("numeric-table", "table"),
                            ("drawings", "section"), ("kernel-times", "section")):
        assert page.ids.get(element_id) == tag, element_id
    assert page.figures_with_two_drawings == 6
    # the engine diff of the real ONNX Runtime builds of the model and its merged version, with its verdict line
    # (which verdict depends on the measured times: any, as long as the line is there)
    assert re.search(r"(IMPROVED|REGRESSED|MIXED|UNCHANGED) \| [^<]*\d", dom)


def test_the_browser_checks_can_fail(report_page, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text(report_page.read_text().replace(
        "<h1>", '<img src="missing.png"><svg class="qdq-drawing" width="0" height="0"></svg><h1>', 1))
    dom, stderr = render(broken)
    assert any("missing.png" in line for line in load_failures(stderr))
    assert parse(dom).root.get("data-svg-rendered") == "13/14"
