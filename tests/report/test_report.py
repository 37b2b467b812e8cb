"""The HTML report: through pytest-html (with and without xdist), standalone, compare view, size,
and a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pytest_clipshift.cli import main
from tests.integration.test_plugin import BUDGETS, project  # noqa: F401  (the fixture)

pytest_plugins = ["pytester"]


def images_in(text: str) -> list[str]:
    return re.findall(r'src="data:image/(?:png|jpeg);base64,([A-Za-z0-9+/=]{40,})"', text.replace("\\u003d", "="))


def test_pytest_html_report_carries_the_clipshift_section(project):
    result = project.runpytest(
        "--clipshift", "--clipshift-budgets=budgets.toml", "--html=report.html", "--self-contained-html"
    )
    assert result.ret == 1
    text = (project.path / "report.html").read_text()
    for piece in (
        "clipshift summary",
        "fingerprint",
        "clipshift-metrics",
        "identity[s1]",
        "gaussian_noise[s5]",
        "dendrogram s1",
        "distance heatmap s5",
        "cosine distributions s1",
        "versus severity",
        "Images that moved most",
        "FAIL: patch_similarity.mean &gt;= 0.99",
    ):
        assert piece in text, piece
    assert len(images_in(text)) >= 8
    # the extra table columns and the per-test overlay extra
    assert "cosine mean" in text and "augmentation</th>" in text
    assert "worst images" in text
    # the page is titled with the model and the verdict (a budget broke: FAILED), not "report.html"
    title = re.search(r"<h1 id=\"title\">(.*?)</h1>", text).group(1)
    assert title.startswith("clipshift: ") and title.endswith("FAILED") and "tiny-clip" in title, title


def test_report_with_xdist(project):
    pytest.importorskip("xdist")
    result = project.runpytest_subprocess(
        "--clipshift", "--clipshift-budgets=budgets.toml", "--html=x.html", "--self-contained-html", "-n", "2"
    )
    assert result.ret == 1
    text = (project.path / "x.html").read_text()
    assert "clipshift summary" in text and "gaussian_noise[s5]" in text and len(images_in(text)) >= 8


def test_plugin_works_without_pytest_html(project):
    result = project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "-p", "no:html")
    result.assert_outcomes(passed=5, failed=1)


def test_standalone_report_and_compare_commands(project, capsys):
    project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-json=run.json")
    run = project.path / "run.json"
    out = project.path / "standalone.html"
    assert main(["report", str(run), "-o", str(out)]) == 0
    text = out.read_text()
    assert "clipshift summary" in text and "clipshift-metrics" in text and len(images_in(text)) >= 8
    # compare: identical runs pass, a tolerance the candidate breaks fails, a broken file is exit 2
    assert main(["compare", str(run), str(run), "--fail", "cosine.mean:1%"]) == 0
    data = json.loads(run.read_text())
    for r in data["results"]:
        pi = r["metrics"]["cosine"]["per_image"]
        r["metrics"]["cosine"]["per_image"] = [v - 0.2 for v in pi]
        r["metrics"]["cosine"]["mean"] -= 0.2
    worse = project.path / "worse.json"
    worse.write_text(json.dumps(data))
    side = project.path / "compare.html"
    assert main(["compare", str(run), str(worse), "--fail", "cosine.mean:1%", "-o", str(side)]) == 1
    assert "regression(s) beyond tolerance" in capsys.readouterr().err
    page = side.read_text()
    assert 'class="fail"' in page and "FAILED</title>" in page
    assert len(images_in(page)) == 1  # the delta figure
    # failures first; an unchanged cell is neutral, never red (-0.0000 painted red misled users)
    rows = re.findall(
        r'<tr><td class="name">(.*?)</td><td class="name">(.*?)</td>.*?<td class="([^"]*)">([+-][0-9.]+)</td>', page
    )
    classes = [r[2] for r in rows]
    assert classes[0] == "fail" and "fail" not in classes[classes.index(next(c for c in classes if c != "fail")) :]
    assert all(c == "" for *_, c, d in rows if abs(float(d)) < 5e-5)
    assert main(["compare", str(run), str(run), "--fail", "cosine.mean:1%", "-o", str(side)]) == 0
    same = side.read_text()
    assert 'class="fail"' not in same and 'class="worse-ok"' not in same and "PASSED</title>" in same
    (project.path / "broken.json").write_text('{"schema": "clipshift-results/0"}')
    assert main(["compare", str(run), str(project.path / "broken.json")]) == 2
    assert "incompatible version" in capsys.readouterr().err
    assert main(["report", str(project.path / "missing.json")]) == 2


def test_full_grid_report_stays_small(pytester):
    """9 augmentations x 5 severities x 32 images: the self-contained report stays under 5 MB."""
    pytester.makefile(".toml", budgets='[settings]\nseverities = [1, 2, 3, 4, 5]\n[defaults]\n"cosine.mean" = 0.0\n')
    result = pytester.runpytest(
        "--clipshift",
        "--clipshift-model=demo",
        "--clipshift-images=demo-scenes",
        "--clipshift-max-images=32",
        "--clipshift-budgets=budgets.toml",
        "--clipshift-device=cpu",
        "--clipshift-no-cache",
        "--html=big.html",
        "--self-contained-html",
    )
    result.assert_outcomes(passed=50)
    size = (pytester.path / "big.html").stat().st_size
    assert size < 5 * 1024 * 1024, size


CHECK_SCRIPT = """<script>
window.addEventListener('load', () => setTimeout(() => {
  // pytest-html's own media viewers hold <img src=""> until a row is opened: count embedded images only
  const imgs = [...document.images].filter(i => i.getAttribute('src') && i.getAttribute('src').startsWith('data:'));
  const rows = document.querySelectorAll('#clipshift-metrics tbody tr').length;
  document.body.setAttribute('data-check', JSON.stringify({
    images: imgs.length, broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length, rows: rows}));
}, 500));
</script>"""


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_in_a_real_browser(project, tmp_path):
    project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--html=report.html", "--self-contained-html")
    page = (project.path / "report.html").read_text()
    probe = project.path / "probe.html"
    probe.write_text(page.replace("</body>", CHECK_SCRIPT + "</body>"))
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [chromium(), *flags, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    found = re.search(r"data-check=\"([^\"]+)\"", dom)
    assert found, dom[-2000:]
    check = json.loads(found.group(1).replace("&quot;", '"'))
    assert check["images"] >= 8 and check["broken"] == 0
    assert check["rows"] == 6  # identity, noise and flip at s1 and s5
    shot = Path(project.path / "report.png")
    subprocess.run(
        [chromium(), *flags, "--window-size=1280,2400", f"--screenshot={shot}", probe.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 10_000


def test_drawing_the_report_leaves_the_users_matplotlib_alone(tmp_path):
    """A user's process keeps its backend and rcParams, and pyplot is never imported."""
    import subprocess
    import sys

    script = tmp_path / "draw.py"
    script.write_text(
        "import sys, matplotlib, numpy as np\n"
        "matplotlib.use('svg')\n"
        "matplotlib.rcParams['font.size'] = 13\n"
        "from pytest_clipshift.core.runs.results import RunResult, ShiftResult\n"
        "from pytest_clipshift.report import figures as F\n"
        "rng = np.random.default_rng(0)\n"
        "cells = [ShiftResult(augmentation=a, severity=s, image_names=list('abcd'),\n"
        "         values={'cosine': rng.uniform(0.5, 1, 4)}, seed=0,\n"
        "         embeddings=rng.normal(size=(4, 8)).astype(np.float32))\n"
        "         for a in ('identity', 'gaussian_noise', 'gaussian_blur') for s in (1, 3)]\n"
        "run = RunResult(model={'name': 'm'}, seed=0, image_names=list('abcd'), image_hash='h', image_source='s',\n"
        "                results=cells, clean_embeddings=rng.normal(size=(4, 8)).astype(np.float32))\n"
        "drawn = [F.severity_curves_png(run, 'cosine'), F.dendrogram_png(run, 3), F.distributions_png(run, 3)]\n"
        "assert all(drawn), drawn\n"
        "print(matplotlib.get_backend(), matplotlib.rcParams['font.size'], 'matplotlib.pyplot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["svg", "13.0", "False"]


def test_overlays_for_every_severity_larger_with_a_colour_bar_and_full_names(project):
    """Each measured (augmentation, severity) gets its overlay; the image is at least 2 x 176 px wide
    with a colour bar beside the maps, and hovering names every image in full with its value."""
    import base64
    import io

    from PIL import Image

    project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-json=run.json")
    run = json.loads((project.path / "run.json").read_text())
    out = project.path / "standalone.html"
    assert main(["report", str(project.path / "run.json"), "-o", str(out)]) == 0
    page = out.read_text()
    section = page[page.index("Images that moved most") :]
    measured = [
        f"{r['augmentation']}[s{r['severity']}]"
        for r in run["results"]
        if r["augmentation"] != "identity" and "image_subset" not in r
    ]
    assert len(set(measured)) > len({m.split("[")[0] for m in measured})  # several severities per augmentation
    broke = {f"{c['augmentation']}[s{c['severity']}]": c["metric"] for c in run["budgets"] if not c["passed"]}
    assert broke == {"gaussian_noise[s5]": "patch_similarity"}
    for key in measured:  # each cell's name above its own images, ranked by the metric its budget broke
        ranked_by = broke.get(key, "cosine")
        assert f'<figure class="worst"><figcaption>{key} by {ranked_by}</figcaption><img' in section, key
    cell = next(r for r in run["results"] if r["augmentation"] != "identity" and r.get("overlays"))
    overlay = cell["overlays"][0]
    assert overlay["metric"] == "cosine"  # ranked by cosine first, then by each metric a budget names
    image = Image.open(io.BytesIO(base64.b64decode(overlay["b64"])))
    assert image.width >= 2 * 176 + 14 and image.height >= 176
    column = np.asarray(image.convert("RGB"))[:, 2 * 176 + 12 + 7].astype(int)  # through the colour bar
    top, bottom = column[14], column[image.height - 20]
    assert top.sum() > 400 and bottom.sum() < 200  # high (yellow) at the top, low (dark blue) at the bottom
    for name, value in zip(overlay["images"], overlay["values"]):
        assert f"{name}: cosine {value:.4f}" in section


def test_the_diff_page_draws_every_gated_metric_red_where_its_rule_failed(project, tmp_path):
    """A candidate worse only in attention: the diff page draws attention's deltas (the gated
    statistic) with the failed cells red, and no cosine figure calls them "better"."""
    import base64
    import io

    from PIL import Image

    project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-json=run.json")
    run = project.path / "run.json"
    data = json.loads(run.read_text())
    for r in data["results"]:
        if r["augmentation"] == "gaussian_noise":
            attention = r["metrics"]["attention_correlation"]
            attention["per_image"] = [v - 0.3 for v in attention["per_image"]]
            attention["mean"] -= 0.3
    worse = tmp_path / "worse.json"
    worse.write_text(json.dumps(data))
    side = tmp_path / "diff.html"
    rules = ["--fail", "attention_correlation.mean:0.05", "--fail", "attention_correlation.p05:0.05"]
    assert main(["compare", str(run), str(worse), *rules, "-o", str(side)]) == 1
    page = side.read_text()
    alts = re.findall(r'alt="(deltas of [^"]+)"', page)
    assert alts == ["deltas of attention_correlation.mean", "deltas of attention_correlation.p05"]
    figure = re.search(r'alt="deltas of attention_correlation.mean"[^>]*src="data:image/png;base64,([^"]+)"', page)
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(figure.group(1)))).convert("RGB")).reshape(-1, 3)
    red = (np.abs(pixels.astype(int) - (176, 0, 32)).sum(axis=1) < 40).sum()  # the failed cells' colour
    assert red > 20
