"""The quickstart's and the release gate's reports, opened in headless Chromium as a reader opens
them: the verdict panel comes before any table or figure, a failed gate is counted by pytest-html's
own counters, every regression and failed rule is listed first, the noise floor's budgeted cells are
coloured, and the budget column stays on a 1400-px page however long its FAIL text."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_example_suites import SUITES, run_suite

PASS_RGB, FAIL_RGB = "rgb(227, 244, 225)", "rgb(249, 214, 213)"  # report/verdict.py's two colours

PROBE = """<script>
window.addEventListener('load', () => setTimeout(() => {
  const q = s => document.querySelector(s), all = s => [...document.querySelectorAll(s)];
  const after = (a, b) => !!(a && b && (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING));
  const panel = q('#clipshift-verdict'), firstFigure = q('.clipshift img.cs-fig'), metrics = q('#clipshift-metrics');
  const floor = all('#clipshift-metrics tr.floor td.pass, #clipshift-metrics tr.floor td.fail');
  const compareRows = all('#clipshift-compare tbody tr');
  document.body.setAttribute('data-facts', JSON.stringify({
    verdict: panel ? panel.querySelector('h2').textContent : null,
    panelFirst: after(panel, metrics) && after(panel, firstFigure) && after(panel, q('#clipshift-compare') || metrics),
    failedRules: all('#clipshift-failed-rules tbody tr').length,
    regressions: all('#clipshift-regressions tbody tr').map(r => r.cells[0].textContent + ' ' + r.cells[1].textContent),
    compareFailuresFirst: compareRows.map(r => r.querySelector('td.fail') !== null),
    failedCounter: (q('span.failed') || {}).textContent,
    floorColours: floor.map(td => getComputedStyle(td).backgroundColor),
    tableRight: metrics ? metrics.getBoundingClientRect().right : null,
    pageWidth: document.documentElement.clientWidth,
    worstHeadings: all('.clipshift h4').length,
  }));
}, 500));
</script>"""

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,2400",
]


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def page_facts(page: Path, tmp_path: Path) -> dict:
    """What Chromium shows of ``page``: the facts the probe script reads off the laid-out DOM, and a
    screenshot's size (a blank page is a few kB)."""
    probe = page.with_name(page.stem + "-probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    flags = [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [chromium(), *flags, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    found = re.search(r"data-facts=\"([^\"]+)\"", dom)
    assert found, dom[-2000:]
    facts = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    shot = page.with_suffix(".png")
    subprocess.run([chromium(), *flags, f"--screenshot={shot}", probe.as_uri()], capture_output=True, timeout=120)
    facts["screenshot_bytes"] = shot.stat().st_size if shot.exists() else 0
    return facts


pytestmark = [
    pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
    pytest.mark.whole_run,  # runs the example suites in fresh interpreters
]


def test_the_quickstart_report_opens_with_its_verdict(tmp_path):
    result = run_suite(tmp_path, "quickstart")
    assert result.returncode == 0, result.stdout[-3000:]
    facts = page_facts(tmp_path / "report.html", tmp_path)
    assert facts["verdict"] == "PASSED" and facts["panelFirst"]
    assert facts["failedRules"] == 0 and facts["failedCounter"].startswith("0 Failed")
    # identity s1 and s3: each budgeted column (cosine mean and p05, attention) green, as on every other row
    assert len(facts["floorColours"]) >= 4 and set(facts["floorColours"]) == {PASS_RGB}
    assert facts["tableRight"] <= facts["pageWidth"] and facts["worstHeadings"] == 9
    assert facts["screenshot_bytes"] > 50_000


def test_the_release_gates_failed_report_explains_itself_first(tmp_path):
    """A perturbed candidate against the demo model's baseline: the panel says FAILED and lists the
    regressions before anything else, the compare table puts its failures first, pytest-html counts
    the gate, and a long FAIL text wraps inside the page."""
    suite = tmp_path / "release_gate"
    shutil.copytree(SUITES / "release_gate", suite)
    # every augmentation's cell breaks four long-named rules: the budget column's text is long
    (suite / "budgets.toml").write_text(
        (suite / "budgets.toml").read_text()
        + "\n".join(
            f'"{m}.{s}" = ">= 0.99999"'
            for m in ("attention_correlation", "attention_inverse_mse")
            for s in ("mean", "p05")
        )
        + '\n[augmentations.identity]\n"cosine.min" = ">= 0.9999"\n"cosine.mean" = "> 1.0"\n'
    )
    saved = run_suite(tmp_path, "release_gate", "--clipshift-model=demo", "--clipshift-save=release")
    assert saved.returncode == 1  # the long rules break: the baseline is saved whatever its budgets said
    candidate = tmp_path / "candidate"
    make = [sys.executable, str(suite / "make_candidate.py"), str(candidate), "--noise", "0.5"]
    subprocess.run(make, check=True, capture_output=True)
    gate = run_suite(
        tmp_path,
        "release_gate",
        f"--clipshift-model={candidate}",
        "--clipshift-compare=release",
        "--html=gate.html",
        "--self-contained-html",
    )
    assert gate.returncode == 1, gate.stdout[-3000:]
    facts = page_facts(tmp_path / "gate.html", tmp_path)
    assert facts["verdict"] == "FAILED" and facts["panelFirst"]
    assert facts["regressions"] and all(" cosine.mean" in r or "attention" in r for r in facts["regressions"])
    flags = facts["compareFailuresFirst"]
    assert any(flags) and flags == sorted(flags, reverse=True)  # every failed delta above every other
    failed_items = len(re.findall(r"^FAILED ", gate.stdout, flags=re.M))
    assert facts["failedCounter"].startswith(f"{failed_items} Failed")
    assert "clipshift::gate - clipshift gate FAILED" in gate.stdout
    assert facts["failedRules"] > 0 and FAIL_RGB in facts["floorColours"]  # identity's "> 1.0" cannot hold
    assert facts["tableRight"] <= facts["pageWidth"], facts
