"""The HTML report in headless Chromium (Debian's `chromium`) at 1280 px: the screenshot is kept as a test artefact
(build/test-artifacts/), and the rendered DOM has one row per host (the unreachable one marked), the NO cells
marked in red, and nothing wider than the window. The report is the ansible-runner run's (conftest.py)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ARTIFACTS

# Added to a copy of the report only (the report itself has no script): what the layout engine computed.
PROBE = """<script>
document.documentElement.dataset.scrollWidth = document.documentElement.scrollWidth;
var no = document.querySelector('td.runs-NO');
if (no) { document.documentElement.dataset.noBackground = getComputedStyle(no).backgroundColor; }
</script>"""


def chromium():
    path = shutil.which("chromium")
    if path is None and os.geteuid() == 0 and Path("/etc/debian_version").exists():
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], env=env, check=True, capture_output=True)
        path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is needed (apt-get install chromium)")
    return path


def headless(*args):
    return [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--window-size=1280,900", *args]


class Dom(HTMLParser):
    """Element start tags with their attributes, the class of the table they are in, and each <td>/<th>'s text."""

    def __init__(self):
        super().__init__()
        self.elements, self._cell, self._table = [], None, ""

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, **{k: v or "" for k, v in attrs}, "text": "", "table": self._table}
        self.elements.append(element)
        if tag == "table":
            self._table = element.get("class", "")
        if tag in ("td", "th"):
            self._cell = element

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._cell = None
        if tag == "table":
            self._table = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data

    def having(self, tag, css_class, table=None):
        return [e for e in self.elements if e["tag"] == tag and css_class in e.get("class", "").split()
                and (table is None or e["table"] == table)]


@pytest.fixture(scope="module")
def report(site_run):
    (html,) = sorted(site_run["reports"].glob("fleet-*.html"))
    return html, json.loads(html.with_suffix(".json").read_text())


def test_self_contained(report):
    text = report[0].read_text()
    assert not re.search(r"<(script|link|img|iframe)\b", text)
    assert not re.search(r"(src|href)\s*=|url\(|@import", text)


def test_screenshot_at_1280(report, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "fleet-report-1280.png"
    shot.unlink(missing_ok=True)
    proc = subprocess.run(headless(f"--screenshot={shot}", report[0].as_uri()), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and shot.exists(), proc.stderr
    width, height = int.from_bytes(shot.read_bytes()[16:20], "big"), int.from_bytes(shot.read_bytes()[20:24], "big")
    assert (width, height) == (1280, 900) and shot.stat().st_size > 10_000, (width, height, shot.stat().st_size)


def test_rendered_dom(report, tmp_path):
    html, data = report
    probed = tmp_path / html.name
    probed.write_text(html.read_text().replace("</body>", PROBE + "</body>"))
    proc = subprocess.run(headless("--dump-dom", probed.as_uri()), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    dom = Dom()
    dom.feed(proc.stdout)
    root = dom.elements[0]
    assert root["tag"] == "html"
    assert int(root["data-scroll-width"]) <= 1280, "the page is wider than 1280 px"

    rows = dom.having("tr", "host-row", table="hosts")
    assert [r["data-host"] for r in rows] == [h["name"] for h in data["hosts"]]
    assert len(rows) == len(data["hosts"]) >= 2
    by_status = {h["name"]: h["status"] for h in data["hosts"]}
    for row in rows:
        assert f"host-{by_status[row['data-host']]}" in row["class"].split()
    assert "unreachable" in by_status.values()
    assert [r["data-host"] for r in dom.having("tr", "matrix-row", table="matrix")] == [h["name"] for h in data["hosts"]]
    assert [c["text"].strip() for c in dom.having("td", "host-down", table="matrix")] == ["UNREACHABLE"]

    no_cells = dom.having("td", "runs-NO", table="matrix")
    assert len(no_cells) == data["summary"]["cannot_run"] > 0
    assert all(c["text"].strip().startswith("NO") for c in no_cells)
    assert root["data-no-background"] == "rgb(179, 38, 30)"  # the red of .runs-NO
    yes_cells = dom.having("td", "runs-yes", table="matrix")
    assert yes_cells and all(c["text"].strip().startswith("yes") for c in yes_cells)
