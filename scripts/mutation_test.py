"""Mutation testing of the code that decides a number or a verdict: ``python scripts/mutation_test.py``.

Runs mutmut (``pip install mutmut``) over the modules named in ``[tool.mutmut]`` of pyproject.toml
(the gate, the engine and its cache, augmentations, ImageNet-C, metrics, corruption error,
calibration, the labelled sample, preprocessing, the report's verdicts), each against the tests of
its own job (``scripts/mutation_selection.py``, whole pytest runs left out), then writes
``docs/mutation-results.md``: per module the score over the mutants that can change a result, and
every survivor with its diff and why it cannot. Not run in CI (see the results file for how long it
took). Results accumulate in ``docs/mutation-ledger.json``, so a run goes on where the last one
stopped. Arguments: mutant names or patterns (run only those); ``--retry-survivors`` (run the
survivors asked for again, after new tests; those named equivalent keep their result); ``--fresh``
(forget the ledger); ``--reuse`` (run nothing: record ``mutants/`` in the ledger and rewrite the
page; ``--minutes=N`` records a run made by hand with ``python -m mutmut run``).
"""

from __future__ import annotations

import collections
import fnmatch
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from mutation_selection import SELECTION

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "mutation-results.md"


def mutmut(*args: str, check: bool = True) -> str:
    done = subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=ROOT, capture_output=True, text=True)
    if check and done.returncode not in (0, 1):
        sys.exit(f"mutmut {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


# Survivors whose change cannot alter a verdict, and why. Anything else is listed as "not yet killed".
EQUIVALENT = (
    (
        re.compile(r"np\.array\(view, (dtype=None)?\)$|np\.asarray\(embedding, (None)?\), \{", re.M),
        "the view is float32 already (a pack holds float32 bytes, viewed as float32): the same copy",
    ),
    (
        re.compile(r"np\.asarray\((values|distance|new_values|old_values), (None)?\)"),
        "dtype dropped: the inputs are float64 arrays already (a metric's values, a distance matrix)",
    ),
    (
        re.compile(r'float\("(NAN|XXnanXX)"\)|float\(None\)'),
        "another spelling of NaN, or an error, only where the value is NaN anyway (an undefined statistic)",
    ),
    (
        re.compile(r"\.(r?partition)\("),
        "a key and an adversarial case's name hold one '.' (registered names have none), a rule one ':'",
    ),
    (re.compile(r"rng\.integers\(v\.size, size"), "integers(n) draws from [0, n): the same draws"),
    (re.compile(r"range\(1001\)"), "a bound on retries that is never reached"),
    (
        re.compile(
            r"at_drop > low|at_drop < high|x\.min\(\) < at_drop|at_drop < x\.max\(\)|r2 <= WEAK_R2|slope != 1\b"
            r"|\(slope != 0\) or True"
        ),
        "a boundary moved by its equality case only: a fitted value exactly on a metric's bound, on the "
        "measured range's end, at R^2 exactly 0.5 or a slope exactly 1 or 0, which a least-squares fit of "
        "measured cells does not land on",
    ),
    (re.compile(r"cells\[1\]\.values"), "every cell holds its metrics in the run's one order"),
    (
        re.compile(r"cross\) \* \(n \* \(n - 3\)\)|/ \(n / \(n - 3\)\)|/ \(n \* \(n \+ 3\)\)"),
        "the unbiased HSIC's constant factor: it cancels in CKA's ratio HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))",
    ),
    (re.compile(r"np\.swapaxes\(l, -2, -2\)"), "a Gram matrix is symmetric: transposing it changes nothing"),
    (re.compile(r"replace=None\)"), "None is falsy: rng.choice draws without replacement, as with False"),
    (re.compile(r"\{y\[1\]:\.4f\}"), "this note is written only when every y is the same"),
    (
        re.compile(r"abs\(den\) <= 1e-12"),
        "'<' and '<=' differ only for a denominator of exactly 1e-12: an error sum no measurement lands on",
    ),
    (
        re.compile(r"worse >= rule\.allowed"),
        "'>' and '>=' differ only at worse == allowed + 1e-12, a margin no "
        "difference of two summaries lands on exactly",
    ),
    (
        re.compile(r"^\+ +break$", re.M),
        "every rule of one delta sees the same paired verdict: skipping the rest "
        "skips only rules that would be skipped too",
    ),
    (re.compile(r"isinstance\(c, bool\) and"), "a bool is 0 or 1, outside [0.5, 1) either way"),
    (
        re.compile(r"\(len\(finite\)\) or True|if \(finite\.size > 1\) or True|finite\.size >= 1"),
        "the other branch gives the same NaN (numpy's ddof=1 std and the bootstrap of one or no value are undefined)",
    ),
    (re.compile(r'decode\("UTF-8"\)|encoding="UTF-8"'), "the same codec"),
    (
        re.compile(r"read_text\(encoding=None\)"),
        "the locale's encoding, which is UTF-8 on every machine this runs on (a JSON config read as UTF-8 either "
        "way); a non-UTF-8 locale would misread non-ASCII text in a processor config",
    ),
    (
        re.compile(
            r'not isinstance\(entry\.get\("v"\), dict\) and not isinstance|'
            r'o \+ 4 \* n > size and not isinstance\(entry\.get\("v"\), dict\)'
        ),
        "an entry whose values are not a dict or whose CRC is not a number is still a miss: get() checks the "
        "values' type and compares the CRC (tests/core/measure/test_cache_format.py)",
    ),
    (
        re.compile(r'struct\.pack\("<q", len\(header\)\)'),
        "a header shorter than 2^63 bytes packs to the same eight bytes signed or unsigned",
    ),
    (
        re.compile(r"json\.dumps\(index, (separators=None)?\)\.encode\(\)"),
        "the index with spaces after its separators parses to the same JSON (only the pack is larger)",
    ),
    (
        re.compile(r"write_bytes_atomic\(path, data, (exclusive=(None|False), )?what="),
        "pack names hold the write time and a random uuid: no two writes share one, so refusing to replace "
        "an existing file never comes into play",
    ),
    (
        re.compile(r'what=None\)|what="(XXembedding cache packXX|EMBEDDING CACHE PACK)"|exclusive=True, \)$', re.M),
        "message text only: the name of the file kind in an error that switches the cache off",
    ),
    (
        re.compile(
            r"Augmented\(o, None, (changed=not np\.array_equal\((None, c|o, None)\))?\) for o, c in zip\(out, clean\)"
        ),
        "an attack never returns its canvas: the random start moves every pixel by a continuous draw in "
        "[-eps, eps] (eps at least 0.5/255) and the attacked image is float, so changed is True either way",
    ),
    (
        re.compile(r"Augmented\(o, changed=not np\.array_equal\(o, c\)\) for o, c in zip\(out, clean\)"),
        "the dropped argument is coords=None, the field's default",
    ),
    (
        re.compile(
            r"\.reshape\(-2\),$|coverage\.reshape\(-2\)|e\.reshape\(e\.shape\[0\], -2\)|"
            r"m\.reshape\(m\.shape\[:-2\] \+ \(-2,\)\)|cv2\.resize\(m, size\)\.reshape\(-2\)|"
            r"y\.reshape\(-2, channels\)",
            re.M,
        ),
        "numpy (2.4) reads any negative size as the one unknown dimension, as -1",
    ),
    (
        re.compile(r"if self\.problem is not None and not entries:"),
        "pending entries exist only while the cache works (put keeps none once it has a problem), and after a "
        "failed write the next pack fails the same way in the same folder, setting the same problem",
    ),
    (
        re.compile(r"if \(Path\(folder\)\.is_dir\(\)\) or True else"),
        "globbing a folder that does not exist finds nothing, as the empty list does",
    ),
    (
        re.compile(r'hit\[1\]\.get\("_unchanged", (None)?\)'),
        "bool(None) is False, as bool(0) is",
    ),
    (
        re.compile(r'cfg\.get\("do_center_crop", (None)?\)'),
        "a missing key reads None, which is falsy as False is: no crop either way",
    ),
    (re.compile(r'kind="STABLE"'), "numpy reads a sort kind in any case"),
    (
        re.compile(r"if \(len\(draws\) > 1\) or True else 0\.0|if len\(draws\) >= 1 else 0\.0"),
        "the built-in metric across draws, the divergence radius, is 0 for a single draw: the value written anyway",
    ),
    (
        re.compile(r"rng\.random\(x\.shape\) <= (c|0\.5)$", re.M),
        "a uniform draw exactly on the bound has probability 2^-53",
    ),
    (re.compile(r"np\.where\(salt, 2\.0, 0\.0\)"), "salt at 2.0 x 255 is clipped to 255, as 1.0 x 255 is"),
    (
        re.compile(
            r"borderType=None\)|kernel, \)$|filter2D\(\(x / 255\.0\)\.astype\(np\.float32\), -2,|"
            r"filter2D\(x\.astype\(np\.float32\), -2, kernel",
            re.M,
        ),
        "BORDER_REFLECT_101 is OpenCV's default border, and any negative depth means the source's",
    ),
    (
        re.compile(r"step, wibble = mapsize, 101\.0"),
        "every draw scales with wibble squared: the normalised map is the same",
    ),
    (re.compile(r"rng\.uniform\(0\.5, \)"), "numpy's uniform has high=1.0 by default"),
    (re.compile(r"float\(rng\.uniform\(0\.5, 1\.0\)\), None, cv2\.LINE_AA"), "OpenCV's default line thickness is 1"),
    (
        re.compile(r"float\(rng\.uniform\(0\.5, 1\.0\)\), 1, (None)?\)"),
        "OpenCV anti-aliases lines on 8-bit canvases only: on the float32 streak canvas LINE_AA draws the "
        "pixels of the default LINE_8 (measured with OpenCV 5.1)",
    ),
    (
        re.compile(r"cv2\.threshold\(dist, 20, (None|21), cv2\.THRESH_TRUNC\)"),
        "THRESH_TRUNC never reads its maximum value (measured: None, 21 and 255 give the same bytes)",
    ),
    (
        re.compile(r"cv2\.filter2D\(dist, None, np\.array"),
        "a depth of None is the source's (uint8), as CV_8U (measured: the same bytes)",
    ),
    (
        re.compile(r"np\.round\(layer \* 255\)\.astype\(None\)"),
        "the rounded values are whole numbers in [0, 255]: as float64 or uint8 they divide to the same",
    ),
    (
        re.compile(
            r"else np\.zeros\((None, np\.uint8|0, None|np\.uint8|0, |1, np\.uint8)\)|if \(size\) or True else|"
            r"isinstance\(index, dict\) or size (<= 0|< 1):"
        ),
        "a pack without embedding bytes holds no readable entry (an embedding is at least one float): none either way",
    ),
    (re.compile(r'np\.memmap\(path, mode="r"'), "memmap's default dtype is uint8"),
    (
        re.compile(r"offset=start, (shape=None)?\) if size"),
        "without a shape memmap maps from the offset to the end of the file: the same bytes",
    ),
    (
        re.compile(r'struct\.unpack\("<q"'),
        "a length of 2^63 or more (a corrupt header) is refused either way: what follows is not a JSON index",
    ),
    (
        re.compile(r"np\.einsum\(\"(NKD,NJD->N?KJ|ND,ND->N)\""),
        "einsum labels in the other case: the same contraction",
    ),
    (
        re.compile(r"else d, (checks=(None|True))?\)"),
        "squareform's checks pass either way: the matrix comes symmetric with a zero diagonal from "
        "cosine_distance_matrix, or from the tally that wrote it to the results file",
    ),
    (
        re.compile(r"dendrogram\(z, (no_plot=(None|False), )?labels=None\)|dendrogram\(z, no_plot=True, \)"),
        "no_plot only decides whether scipy also draws the tree with matplotlib; labels=None is the default: "
        "the same leaf order",
    ),
    (
        re.compile(r'name\.replace\("_", "XXXX"\)|\.replace\("-", "XXXX"\)'),
        "a name with '_' or '-' replaced by letters instead of nothing is alphanumeric exactly when the name is valid",
    ),
    (
        re.compile(r"layer\[layer <= threshold\]|liquid\[liquid <= threshold\]|liquid >= threshold|m\[m <= 0\.8\]"),
        "'<' and '<=' on a Gaussian-blurred normal draw: a value exactly on the threshold has probability 0",
    ),
    (
        re.compile(r"^\+ {12}delta = (None|cell\.get\(None\))$", re.M),
        "the rule's delta is computed again instead of looked up: the same seeded numbers",
    ),
    (
        re.compile(r"Delta\(old\.augmentation, old\.severity, metric, stat, b, c, None\)"),
        "the initial worse_by is read only where both sides were measured, and there it is set first",
    ),
    (
        re.compile(r"delta\.worse_by < rule\.allowed|den >= EPS"),
        "'<' and '<=' differ only at exactly the tolerance plus 1e-12, or a CKA denominator of exactly 1e-12: "
        "values no measurement lands on",
    ),
    (
        re.compile(r"if \(len\(u\)\) or True else np\.zeros\(0\)"),
        "a ball through one point: lstsq of the empty system returns the same empty array",
    ),
    (
        re.compile(r"np\.linalg\.lstsq\(u @ u\.T, 0\.5 \* \(u \* u\)\.sum\(axis=1\), \)"),
        "since numpy 2.0 (measured with 2.4) lstsq's default rcond is None",
    ),
    (
        re.compile(r"\.sum\(\)\) >= current\[1\] \+ eps|\.sum\(\)\) > current\[1\] - eps|weights\.min\(\) <= -1e-9"),
        "a tolerance moved by its own size or its equality case: a point within 1e-13 of the sphere is on it "
        "either way, and the ball through it is the same",
    ),
    (re.compile(r'save\(buffer, "jpeg"'), "Pillow reads a format name in any case"),
    (
        re.compile(r"np\.asarray\((Image\.open|img\.resize)\(.*(dtype=None\)|, \)$)"),
        "a Pillow RGB image's array is uint8 already",
    ),
    (
        re.compile(r"Image\.open\(buffer\)\.convert\(None\)"),
        "the JPEG was written from RGB and decodes as RGB: convert(None) copies it, as convert('RGB') does",
    ),
    (
        re.compile(r't\.lstrip\(None\)|t\.rstrip\("-"\)'),
        "a negative severity is refused either way, with the same message (it quotes the text as written)",
    ),
    (
        re.compile(r"if not sep and not dot"),
        "a rule without ':' or '.' is still refused, by the tolerance or the metric "
        "check instead: the same usage error, other words",
    ),
    (
        re.compile(r"check_comparable\(baseline, candidate, \)"),
        "message text only: the default names the baseline 'baseline' instead of its path",
    ),
    (
        re.compile(
            r"([\"'])XX[^\"']* [^\"']*XX\1|[A-Z]{4,} [A-Z]{3,}|[A-Z]{3,} --[A-Z]|'NONE'|"
            r"\(None\) from None|ConfigError\(None\)|OutputError\(None\)|"
            r"\"BASELINE\"|\"--CLIPSHIFT-|strerror and exc|what=None|exclusive=True, \)|"
            r"\"XXbaselineXX\"|pass replace=true\)"
        ),
        "message text only: the verdict and the exit code are the same (the messages users read are asserted in "
        "tests/integration/ and tests/core/runs/test_hostile_files.py)",
    ),
)


def mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


EDGE_CACHE = (
    "the scorer's edge maps are a per-image cache of edge_map(grey(canvas)), which Batch (given no cache) or "
    "edge_preservation (given None) compute themselves: edge_map scales each map by its own maximum, the same maps"
)
SOLVER_PATH = (
    "how SLSQP is started, told the gradient or stopped, how its weights are polished or which start is "
    "kept: an answer is accepted only with a certificate "
    "(primal - dual <= 1e-10, both from the weights found, by code the tests pin) and otherwise the exact "
    "fallback decides, so the radius is the same (tests/core/metrics/test_divergence.py)"
)
THREADS = (
    "how many threads augment a batch: each image is augmented alone, seeded by its own hash, so the same "
    "images in any thread (tests/core/measure/test_augmenter.py)"
)
ATTACK_FLOAT = (
    "an attack's entry (random_sign's, the first entry's, are killed): unquantised is read only on the callable "
    "path of apply_augmentation, which refuses an adversarial kind; an attack runs in the augmenter, whose canvas "
    "is float by construction (tests/core/augment/test_adversarial.py checks it stays unrounded)"
)
DESCRIPTION_TEXT = "a description's text, which a listing shows and no number or verdict reads"
PIXEL_NAMES_ON_CUDA = (
    "not yet killed (needs CUDA): the pixel metrics' names are read only to compute them on a CUDA device"
)
METRICS_ON_CUDA = (
    "not yet killed (needs CUDA): Batch's device is None, the CPU path, which is the encoder's device on a "
    "machine without CUDA; only a CUDA encoder computes pixel metrics on its device"
)

# Survivors equivalent in one function only: (its name, the mutated line, why)
IN_FUNCTION = (
    (
        re.compile(r"imagenet_c\.x_impulse_noise__"),
        re.compile(r"_out\(x \* 256\)"),
        "x holds whole grey levels k/255 (or 0 and 1): k/255 x 256 = k + k/255 truncates back to k, and 255 "
        "clips to 255",
    ),
    (
        re.compile(r"tally\.xǁTallyǁend_chunk__"),
        re.compile(r"store\.pop\(i, \)"),
        "every case of every image of a chunk is stored before the chunk ends (from the cache or measured), "
        "and the clean embedding too: the key is always there to pop",
    ),
    (
        re.compile(r"sampling\.x_stratified_sample__"),
        re.compile(r"if n > len\(labels\)"),
        "with n equal to the set's size every label's share is its whole group: all indices, sorted, the same list",
    ),
    (
        re.compile(r"study\.x__(noise_and_colour|warps|occlusion)__"),
        re.compile(r'description=(None|"XX[^"]*XX"|"[^a-z"]*")'),
        DESCRIPTION_TEXT,
    ),
    (
        re.compile(r"study\.x_blur__"),
        re.compile(r"GaussianBlur\(sigma_limit=sigma, p=1\.0\)"),
        "the severities give a sigma and no kernel, so blur_limit is 0 (the kernel from sigma), which is "
        "albumentations' default",
    ),
    (
        re.compile(r"study\.x_affine__"),
        re.compile(r"^\+ +(scale_limit=scale, rotate_limit|shift_limit=shift, rotate_limit)"),
        "only the study's own level calls ShiftScaleRotate, with shift 0.0625 and scale 0.1: its defaults",
    ),
    (
        re.compile(r"scoring\.xǁScorerǁscore__"),
        re.compile(r'text_scores = ""'),
        "read by text metrics only, and the plan measures none without a text scorer",
    ),
    (re.compile(r"scoring\.xǁScorerǁscore__"), re.compile(r"clean_edges=(None|lambda: None)"), EDGE_CACHE),
    (
        re.compile(r"scoring\.xǁScorerǁscore__"),
        re.compile(r'device=(None|getattr\(None, "device"|getattr\(self\.encoder, "(XXdeviceXX|DEVICE)")'),
        METRICS_ON_CUDA,
    ),
    (
        re.compile(r"scoring\.xǁScorerǁscore__"),
        re.compile(r"if \((attention|layers)\) or True"),
        "read only by the attention (layer) metrics, and the plan wants attention (layers) exactly when it "
        "measures one of them",
    ),
    (
        re.compile(r"functional\.x__welzl_certified__"),
        re.compile(r"weights\.min\(\) < -1\.000000001"),
        "weights clipped at 0 and normalised are a point of the simplex, whose dual value is a lower bound "
        "on the squared radius (weak duality): a sound certificate either way, never a false one",
    ),
    (
        re.compile(r"augmenting\.xǁAugmenterǁ(__call__|__init__)__"),
        re.compile(r"ThreadPoolExecutor\(max_workers=None\)|os\.cpu_count\(\) (and 2|or 3)"),
        THREADS,
    ),
    (
        re.compile(r"engine\.xǁ_Measurementǁrun__"),
        re.compile(r"ThreadPoolExecutor\(max_workers=(None|2)\)"),
        "one batch is in flight at a time (the next is handed over only when the last one's result is "
        "taken): the pool never holds two tasks",
    ),
    (
        re.compile(r"preprocess\.x_to_canvas__"),
        re.compile(r"if w < h else"),
        "w <= h and w < h differ only for a square image, where the short and the long side are the same",
    ),
    (
        re.compile(r"preprocess\.x_to_canvas__"),
        re.compile(r"np\.asarray\(img, (dtype=None)?\)"),
        "a PIL RGB image reads back as uint8 anyway",
    ),
    (
        re.compile(r"preprocess\.x_to_canvas__"),
        re.compile(r"if settings\.crop is None or arr\.shape\[:2\] !=|arr\.shape\[:3\] != \(out_h, out_w\)"),
        "a centre crop to the array's own size is the array: cropping more often changes nothing",
    ),
    (
        re.compile(r"preprocess\.x_center_crop__"),
        re.compile(r"if h <= height or w < width|if h < height or w <= width"),
        "padding to the size the array already has copies it unchanged (the offsets are 0)",
    ),
    (
        re.compile(r"preprocess\.x_normalize_batch__"),
        re.compile(
            r'device\.type == "(XXcudaXX|CUDA)" and x\.device|x\.device\.type (!= "cpu"|== "(XXcpuXX|CPU)")|'
            r"pin_memory\(\)\.to\(|^\+ +x = None$|x\.to\(None\)|settings\.(mean|std), (device=None)?\)"
        ),
        "not yet killed (needs CUDA): pinned memory and the device of the input, mean and std are CUDA's; "
        "on the CPU they are the same tensors",
    ),
    (
        re.compile(r"preprocess\.x_normalize_batch__"),
        re.compile(r"x\.shape\[\+2:\]|x\.shape\[-3:\]"),
        "(N, 3, H, W): shape[2:] is shape[-2:]; with shape[-3:] every batch is interpolated, and an interpolation "
        "to its own size is exact (measured: 0.0 with either filter)",
    ),
    (
        re.compile(r"preprocess\.x_normalize_batch__"),
        re.compile(r"antialias=True, (align_corners=None)?\)"),
        "align_corners None is False for bilinear and bicubic (measured: the same tensors)",
    ),
    (
        re.compile(r"preprocess\.x_normalize_batch__"),
        re.compile(r"\.view\(3, 1, 1\)"),
        "(3, 1, 1) broadcasts against (N, 3, H, W) as (1, 3, 1, 1) does",
    ),
    (
        re.compile(r"preprocess\.x_normalize_batch__"),
        re.compile(r'requirements=\["c", "W"\]|requirements=\["C", "w"\]'),
        "np.require reads its flags in either case",
    ),
    (
        re.compile(r"batch\.xǁBatchǁ_aligned_cka__"),
        re.compile(r"np\.full\(n_layers, None\)"),
        "the row is assigned into the float CKA array (layer_ckas), where None becomes NaN (measured)",
    ),
    (
        re.compile(r"functional\.x_enclosing_ball_radius__"),
        re.compile(r"return \+\(norms - 2 \* gram @ w\)|return -\(norms \+ 2 \* gram @ w\)"),
        "a wrong gradient stalls SLSQP, and the exact fallback (Welzl's ball, certified by its dual) gives the "
        "radius: the same number, later",
    ),
    (
        re.compile(r"functional\.x_enclosing_ball_radius__"),
        re.compile(
            r"np\.full\(k, 1\.0 \* k\)|np\.argmax\(None\)|norms - 3 \* gram\.mean|jac=None,|options=None,|"
            r'method="slsqp"|bounds=\[\(0\.0, 2\.0\)\]|"XXjacXX"|np\.ones_like\(None\)|"maxiter": 501|'
            r"np\.full\(k, 2\.0 / k\)|norms \+ 2 \* gram\.mean|norms - 2 / gram\.mean|gram\.mean\(None\)|"
            r'method=None,|"EQ"|"JAC"|"(XXftolXX|FTOL|XXmaxiterXX|MAXITER)"|primal < best\[1\]|'
            r"best\[1\] if \(best\) and False"  # the first start's bound dropped: a weaker one, still sound
        ),
        SOLVER_PATH,
    ),
    (
        re.compile(r"functional\.x__polish__"),
        re.compile(
            r"w >= 1e-7 \* w\.max\(\)|w > 1e-7 / w\.max\(\)|np\.zeros\(\(n \+ 1, n \+ 2\)\)|"
            r"system\[:n, n\] = (\+1\.0|-2\.0)|lstsq\(system, rhs, \)|exact\.min\(\) (<= -1e-9|< -1\.000000001)"
        ),
        SOLVER_PATH,
    ),
    (
        re.compile(r"functional\.x_enclosing_ball_radius__"),
        re.compile(r"primal <= best\[0\]|dual >= best\[1\]|primal - dual >= tol"),
        "differs only where two numbers are exactly equal: the same best, or a gap of exactly the tolerance",
    ),
    (
        re.compile(r"augmentations\.x_draw_seed__"),
        re.compile(r"digest\[:[5-9]\], \"little\"\)"),
        "little-endian, bytes five and on are bits 32 and up, which the 31-bit mask drops",
    ),
    (
        re.compile(r"augmentations\.x_apply_augmentation__"),
        re.compile(r"Augmented\(image\.copy\(\), changed=False\)|Augmented\(out, changed=not"),
        "the dropped argument is coords=None, the field's default",
    ),
    (
        re.compile(r"imagenet_c\.x__gaussian__"),
        re.compile(r"sigmaX=sigma, (sigmaY=None, )?borderType"),
        "OpenCV takes sigmaY = sigmaX when it is 0 or not given (measured: the same bytes)",
    ),
    (
        re.compile(r"imagenet_c\.x__gaussian__"),
        re.compile(r"if sigma < 0:"),
        "a sigma of 0 then blurs with a 1x1 kernel, which is the identity (measured: the same bytes)",
    ),
    (
        re.compile(r"imagenet_c\.x_local_shuffle__"),
        re.compile(r"np\.array\(pixels, (dtype=None)?\)"),
        "a packed pixel is below 2^24 (three bytes): as int64 it shifts and masks to the same bytes",
    ),
    (
        re.compile(r"imagenet_c\.x_local_shuffle__"),
        re.compile(r"\.astype\(None\)\.reshape\(y\.shape\)"),
        "its one caller divides the result by 255.0, which is float64 from uint8 or float64 alike",
    ),
    (
        re.compile(r"imagenet_c\.x__clipped_zoom__"),
        re.compile(r"int\(round\(ch \* factor\)\)\), (interpolation=None)?\)"),
        "INTER_LINEAR is cv2.resize's default (measured: the same bytes)",
    ),
    (
        re.compile(r"imagenet_c\.x_(brightness|saturate)__"),
        re.compile(r"np\.clip\(hsv\[:, :, [12]\] (\+ c|\* factor \+ offset), None, 1\)"),
        "brightness adds c > 0, saturation scales by a factor > 0 and adds an offset >= 0, at every severity: "
        "nothing falls below 0",
    ),
    (
        re.compile(r"augmentations\.x_warp_map__"),
        re.compile(r"np\.clip\(np\.rint\((ys|xs)\)\.astype\(int\), (None, [hw]c - 1|0, None|0, [hw]c \+ 1)\)"),
        "the sample points (k + 0.5) H / N - 0.5 lie in (-0.5, H - 0.5), which rounds into [0, H - 1]: the "
        "clip never binds",
    ),
    (
        re.compile(r"augmentations\.x_warp_map__"),
        re.compile(r"np\.where\(weight >= 0, total"),
        "where no sample is inside, the total is 0 too (outside samples count 0), and 0 / max(0, 1) is 0",
    ),
    (
        re.compile(r"imagenet_c\.x_(motion_blur|snow)__"),
        re.compile(r"_motion_blur\((x|layer), max\(2, int\(round\(radius \* s\)\)\)"),
        "max(1, r) and max(2, r) differ only where the scaled radius rounds to 1 (a short side of 33 px or "
        "less), where sigma x s <= 0.6 gives the added copies a weight under 0.003 (motion blur: 4e-5), under "
        "one grey level: measured, the 32x48 pin image's bytes are the same with either",
    ),
    (
        re.compile(r"functional\.x__min_max__"),
        re.compile(r'np\.errstate\(invalid="ignore", (divide=None)?\)'),
        "hi - lo is 0 only where hi == lo (the difference of two different floats is never 0), and then m - lo "
        "is 0 too: 0/0 is 'invalid', never 'divide by zero'",
    ),
    (
        re.compile(r"functional\.x_attention_inverse_mse_study__"),
        re.compile(r"\*\* 2\)\.mean\(\+1\)"),
        "the squared differences are (N, H * W): axis +1 is axis -1",
    ),
    (
        re.compile(r"functional\.x_l2_distance__"),
        re.compile(
            r"np\.asarray\(a, (None)?\) - np\.asarray\(b, np\.float64\)|"
            r"np\.asarray\(a, np\.float64\) - np\.asarray\(b, (None)?\)"
        ),
        "the other operand is float64: the difference is taken in float64 either way",
    ),
    (
        re.compile(r"functional\.x_patch_similarity__"),
        re.compile(
            r"np\.asarray\(original, (None)?\) - np\.asarray\(augmented, np\.float32\)|"
            r"np\.asarray\(original, np\.float32\) - np\.asarray\(augmented, (None)?\)"
        ),
        "the other operand is float32: uint8 (or an attack's float32) minus float32 is float32 either way",
    ),
    (
        re.compile(r"functional\.x_grey__"),
        re.compile(r"np\.asarray\(images, (dtype=None)?\)"),
        "canvases are uint8 or an attack's float32: tensordot with the float32 weights gives float32 either way",
    ),
    (
        re.compile(r"functional\.x_detail_preservation__"),
        re.compile(r"np\.where\(None, 0\.0,|so <= flat_std|sa <= flat_std"),
        "the original is a uint8 canvas, whose cell std is 0 or at least 0.12 grey levels: 'flat' means 0, "
        "where r is inf and min(r, 1/r) is 0 already, and no std is exactly the threshold",
    ),
    (
        re.compile(r"functional\.x_detail_preservation__"),
        re.compile(r"np\.where\(None, np\.nan, score\)"),
        "a cell flat in both already scores 0 (flat original) and is left out of the count: the same mean",
    ),
    (
        re.compile(r"functional\.x_edge_map__"),
        re.compile(r"e /= 0\.5|e \*= 1\.5"),
        "each map is divided by its own maximum: a constant factor cancels",
    ),
    (
        re.compile(r"functional\.x_edge_preservation__"),
        re.compile(r"if \(original_edges is None\) or True else"),
        "the cached edge maps are edge_map(grey(original)): computing them again gives the same maps",
    ),
    (
        re.compile(r"functional\.x_linear_cka__"),
        re.compile(r"k\.sum\(-2\) \* l\.sum\(-1\)|k\.sum\(-1\) \* l\.sum\(-2\)"),
        "K and L are Gram matrices, symmetric: their row sums are their column sums",
    ),
    (
        re.compile(r"views\.x_worst_views__"),
        re.compile(r"scorer\.encode\(stack, None\)"),
        "the rows' labels only name the image in the error for a NaN embedding (asserted in the engine's tests)",
    ),
    (
        re.compile(r"plan\.x_make_plan__"),
        re.compile(r'encoder\.info\.get\("attention", (None|"XXXX")?\)'),
        "a model that says nothing of its attention: '', 'None' and 'XXXX' all read as available (only "
        "'not available...' drops metrics)",
    ),
    (
        re.compile(r"plan\.x_make_plan__"),
        re.compile(r"if settings\.draws >= 1:"),
        "with one draw the extra draws, range(1, 1), are none: the same cases",
    ),
    (
        re.compile(r"plan\.x__stored__"),
        re.compile(r"^\+ +stored = \[m\.name for m in METRICS"),
        "the list is still empty there: '=' and '+=' give the same list",
    ),
    (
        re.compile(r"tally\.xǁTallyǁ__init____"),
        re.compile(r"across if \(p < plan\.asked\) or True|across if p <= plan\.asked"),
        "an extra draw's row of across-draw values stays NaN and is never read: only the asked cases are "
        "reported (Measurement.result) and the metrics across draws are computed for them",
    ),
    (
        re.compile(r"augmenting\.x_augment_device__"),
        re.compile(r'getattr\(device, "type", (None|"XXcpuXX"|"CPU")\) == "cuda"'),
        "any default but 'cuda' reads as not CUDA: None either way",
    ),
    (
        re.compile(r"augmenting\.x_augment_device__"),
        re.compile(r"\(isinstance\(choice, str\)\) or True"),
        "torch.device of a torch.device is that device",
    ),
    (
        re.compile(r"augmenting\.xǁAugmenterǁ__call____"),
        re.compile(r"if \(batch\) or True else None"),
        "the engine never augments an empty batch: each batch is a non-empty slice of one case's jobs",
    ),
    (
        re.compile(r"augmenting\.xǁAugmenterǁ_on_device__"),
        re.compile(r"apply_batch\(case, clean, seeds, None\)"),
        "not yet killed (needs CUDA): the device path is taken only for a CUDA augment device; None runs "
        "the same torch code on the CPU",
    ),
    (
        re.compile(r"augmentations\.x__adversarial_table__"),
        re.compile(r"^\+ +unquantised=(None|False),$"),
        ATTACK_FLOAT,
    ),
    # the filter of the pixel metrics' names: the set is read only on CUDA (score__'s pixel_names below)
    (
        re.compile(r"scoring\.xǁScorerǁ__init____"),
        re.compile(r"^\+ +m for m in plan\.stored_metrics if "),
        PIXEL_NAMES_ON_CUDA,
    ),
)


# Survivors that only drop one argument, by the line dropped: (function, the dropped line, why)
DROPPED_ARGUMENTS = (
    (re.compile(r"augmentations\.x__adversarial_table__"), re.compile(r"^ +unquantised=True,$"), ATTACK_FLOAT),
    (
        re.compile(r"preprocess\.xǁPreprocessSettingsǁfallback__"),
        re.compile(r"^ +True,$"),
        "the dropped argument is normalize=True, the field's default",
    ),
    (re.compile(r"scoring\.xǁScorerǁscore__"), re.compile(r"^ +clean_edges=lambda"), EDGE_CACHE),
    (
        re.compile(r"study\.x__(noise_and_colour|warps|occlusion)__"),
        re.compile(r"^ +description=\"[^\"]*\",$"),
        f"{DESCRIPTION_TEXT} (the default is '')",
    ),
    (
        re.compile(r"augmentations\.x_augmentation_for__"),
        re.compile(r"^ +base\.kind,$"),
        "only the built-ins of _strength_params' table have a continuous strength, and each is an "
        "albumentations transform, the default kind",
    ),
    (
        re.compile(r"functional\.x_enclosing_ball_radius__"),
        re.compile(r'^ +(method="SLSQP",|constraints=\[|jac=gradient,|options=\{"ftol")'),
        SOLVER_PATH,
    ),
    (re.compile(r"scoring\.xǁScorerǁscore__"), re.compile(r"^ +device=getattr\(self\.encoder"), METRICS_ON_CUDA),
    (
        re.compile(r"scoring\.xǁScorerǁscore__"),
        re.compile(r"^ +pixel_names=self\.pixel_names"),
        PIXEL_NAMES_ON_CUDA,
    ),
)


# Survivors mutmut cannot reach, by the mutated function's name
UNREACHABLE = (
    (
        re.compile(r"imagenet_c\.x__levels__"),
        "runs once, at import, before mutmut switches a mutant on; the severity tables it builds are read "
        "against Hendrycks' own constants (tests/core/augment/test_parameter_tables.py)",
    ),
    (
        re.compile(r"metrics\.builtin\.x__pixel__"),
        "runs once, at import, building the built-in metric table before mutmut switches a mutant on; the "
        "function it returns is what the pixel metrics' formula tests run (tests/core/metrics/)",
    ),
)


def default_dtype(diff: list[str]) -> bool:
    """float64 replaced by None or dropped: numpy's default dtype is float64, so the array is the same."""
    removed = [x[1:] for x in diff if x.startswith("-")]
    added = [x[1:] for x in diff if x.startswith("+")]
    if len(removed) != 1 or len(added) != 1 or "np.float64" not in removed[0]:
        return False
    r = removed[0]
    return added[0] in {r.replace("np.float64", "None"), r.replace("dtype=np.float64", ""), r.replace("np.float64", "")}


def identity_factory(diff: list[str]) -> bool:
    """The identity augmentation's factory replaced: apply_augmentation returns the image for 'identity'
    before it would call one."""
    return [x[0] + x[1:].strip() for x in diff] == ["-identity,", "+None,"]


# Survivors equivalent by what the mutation did to the line, not by what it wrote
DIFF_RULES = (
    (default_dtype, "float64 replaced by numpy's default dtype, which is float64: the same array"),
    (identity_factory, "the identity's factory is never called: apply_augmentation returns the image for 'identity'"),
)


def unreached(name: str, status: str) -> str:
    """A mutant no test reached ('no tests'): why, when mutmut cannot reach it; otherwise not yet killed."""
    return next((why for pattern, why in UNREACHABLE if pattern.search(name)), f"not yet killed ({status})")


def reason(diff: list[str], name: str = "") -> str:
    for pattern, why in UNREACHABLE:
        if pattern.search(name):
            return why
    added = " ".join(x for x in diff if x.startswith("+"))
    for function, pattern, why in IN_FUNCTION:
        if function.search(name) and pattern.search(added):
            return why
    removed = [x[1:] for x in diff if x.startswith("-") and not x[1:].strip().startswith("#")]  # code lines
    # mutmut redraws a call whose last argument it dropped: the closing line comes back re-indented
    redrawn = {x[1:].strip() for x in diff if x.startswith("+")} & {x.strip() for x in removed}
    dropped = [x for x in removed if x.strip() not in redrawn]
    for function, pattern, why in DROPPED_ARGUMENTS:
        if (
            function.search(name)
            and all(x[1:].strip() in redrawn for x in diff if x.startswith("+"))
            and len(dropped) == 1
            and pattern.search(dropped[0])
        ):
            return why
    for rule, why in DIFF_RULES:
        if rule(diff):
            return why
    for pattern, why in EQUIVALENT:
        if pattern.search(added):
            return why
    return "not yet killed"


CAUGHT_EXIT_CODES = (1, 3, 36)  # mutmut's "killed" (a test failed, or pytest's internal error) and "timeout"
LEDGER = ROOT / "docs" / "mutation-ledger.json"
"""Every mutant's result so far, with the hash of its function: mutmut keeps a result while its
function's hash is unchanged, so runs resume across sessions (``--fresh`` starts over)."""


def seed_from_ledger(ledger: dict) -> int:
    """Write the ledger's results where mutmut reads them (``mutants/<file>.meta``); mutmut drops
    those of functions whose hash has changed when it generates the mutants. Returns how many."""
    seeded = 0
    for path, entry in ledger.get("files", {}).items():
        meta = ROOT / "mutants" / f"{path}.meta"
        meta.parent.mkdir(parents=True, exist_ok=True)
        module = path.removesuffix(".py").replace("/", ".")
        codes = {
            f"{module}.{function}__mutmut_{i}": code
            for function, by_number in entry["codes"].items()
            for i, code in by_number.items()
        }
        meta.write_text(
            json.dumps(
                {
                    "exit_code_by_key": codes,
                    "hash_by_function_name": entry["hashes"],
                    "type_check_error_by_key": {},
                    "durations_by_key": {},
                    "estimated_durations_by_key": {},
                }
            ),
            encoding="utf-8",
        )
        seeded += sum(code is not None for code in codes.values())
    return seeded


def read_ledger_from_mutants() -> dict:
    """The results in ``mutants/`` as ledger files: per source file its function hashes and, per
    function, the exit code of each mutant that ran."""
    files = {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        codes: dict[str, dict[str, int]] = collections.defaultdict(dict)
        for key, code in data["exit_code_by_key"].items():
            if code is not None:
                function, _, number = key.rsplit(".", 1)[1].rpartition("__mutmut_")
                codes[function][number] = code
        files[str(meta.relative_to(ROOT / "mutants"))[: -len(".meta")]] = {
            "hashes": data["hash_by_function_name"],
            "codes": {f: dict(sorted(c.items(), key=lambda x: int(x[0]))) for f, c in sorted(codes.items())},
        }
    return files


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


FLAGS = ("--retry-survivors", "--fresh", "--reuse")


def check_flags(argv: list[str]) -> None:
    """Stop on ``--help`` or a flag this script does not know, before mutmut starts an hour's run."""
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        sys.exit(0)
    for a in argv:
        if a.startswith("-") and a not in FLAGS and not a.startswith("--minutes="):
            sys.exit(f"mutation_test.py: unknown option {a!r}; expected {', '.join(FLAGS)}, --minutes=N or --help")


def main() -> None:
    check_flags(sys.argv[1:])
    args = [a for a in sys.argv[1:] if not a.startswith("--")]  # mutant names or patterns: run only those
    ledger = {} if "--fresh" in sys.argv or not LEDGER.is_file() else json.loads(LEDGER.read_text(encoding="utf-8"))
    if "--reuse" not in sys.argv:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        if "--retry-survivors" in sys.argv:  # after new tests: the survivors asked for run again
            equivalent = set(ledger.get("equivalent", ()))  # their reason is known: no new test kills them
            for path, entry in ledger.get("files", {}).items():
                module = path.removesuffix(".py").replace("/", ".")
                for function, by_number in entry["codes"].items():
                    for i, code in list(by_number.items()):
                        name = f"{module}.{function}__mutmut_{i}"
                        asked = not args or any(fnmatch.fnmatchcase(name, pattern) for pattern in args)
                        if code not in CAUGHT_EXIT_CODES and asked and name not in equivalent:
                            del by_number[i]
        print(f"{seed_from_ledger(ledger)} results from {LEDGER.name} (kept where the function is unchanged)")
        started = time.perf_counter()
        mutmut("run", "--max-children", "2", *args)
        minutes = (time.perf_counter() - started) / 60
    else:  # a run made by hand (``python -m mutmut run ...`` in this folder): --minutes=N records how long
        if not (ROOT / "mutants").is_dir():  # mutmut's results live there: without them the ledger would be emptied
            sys.exit("--reuse: no mutants/ folder here to record (run mutmut, or this script, in this folder first)")
        minutes = next((float(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--minutes=")), None)
    if minutes is not None:
        run = {"date": f"{datetime.now(timezone.utc):%Y-%m-%d}", "commit": git_commit(), "minutes": round(minutes)}
        asked = [a for a in sys.argv[1:] if not a.startswith(("--reuse", "--minutes="))]  # flags and patterns
        ledger["runs"] = ledger.get("runs", []) + [{**run, "only": asked}]
    ledger["files"] = read_ledger_from_mutants()
    ledger["equivalent"] = write_page(ledger)
    LEDGER.write_text(json.dumps(ledger, indent=1) + "\n", encoding="utf-8")


def survivor_diff(name: str) -> list[str]:
    return [
        x
        for x in mutmut("show", name, check=False).splitlines()
        if x.startswith(("-", "+")) and not x.startswith(("---", "+++"))
    ]


def write_page(ledger: dict) -> list[str]:
    """Write the results page; returns the survivors named equivalent (``--retry-survivors`` skips them)."""
    rows = [line.strip().rsplit(": ", 1) for line in mutmut("results", "--all", "true").splitlines() if ": " in line]
    per_module: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    survivors = []
    for name, status in rows:
        module = name.split(".x")[0]
        per_module[module][status] += 1
        if status not in ("killed", "timeout", "not checked"):  # a timeout is caught: the mutant hung the tests
            survivors.append((name, status, survivor_diff(name)))

    # a module the ledger holds fewer results for than the run before it (whose per-mutant results were
    # not kept) shows that run's counts and survivors
    def ran(counts) -> int:
        return sum(counts.values()) - counts["not checked"]

    carried = {
        module: old
        for module, old in ledger.get("earlier", {}).items()
        if ran(per_module[module]) < ran(collections.Counter(old["counts"]))
    }
    status_of = dict(rows)
    for module, old in carried.items():
        counts = collections.Counter(old["counts"])
        kept = []
        for name, status, diff in old["survivors"]:
            if status_of.get(name) in ("killed", "timeout"):  # that survivor ran again and was caught
                counts[status] -= 1
                counts[status_of[name]] += 1
            else:
                kept.append((name, status, diff))
        per_module[module] = counts
        survivors = [x for x in survivors if x[0].split(".x")[0] != module] + kept
    total = collections.Counter()
    for counts in per_module.values():
        total.update(counts)
    runs = ledger.get("runs", [])
    lines = [
        "# Mutation testing of what decides a number or a verdict",
        "",
        f"`python scripts/mutation_test.py` (mutmut {mutmut_version()}), {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, 2 workers. The results accumulate in "
        f"`docs/{LEDGER.name}`: a mutant that ran keeps its result while its function is unchanged, so a run "
        "goes on where the last one stopped (`--retry-survivors` runs the survivors not named equivalent "
        "again after new tests, "
        "`--fresh` starts over). The runs in the ledger:",
        "",
        "| date | commit | minutes | mutants asked |",
        "|---|---|---|---|",
        *(f"| {r['date']} | {r['commit']} | {r['minutes']} | {', '.join(r['only']) or 'all'} |" for r in runs),
        "",
        "Each module is tested by the tests of its own job (`scripts/mutation_selection.py`), whole pytest "
        "runs left out, the fastest test file first:",
        "",
        "| modules | tests |",
        "|---|---|",
        *(f"| `{module}*` | {', '.join(f'`{t}`' for t in tests)} |" for module, tests in SELECTION.items()),
        "",
        *(
            [
                f"**A partial run**: {total['not checked']} of {sum(total.values())} mutants not run yet "
                "('not run' below). mutmut runs the mutants whose tests are fastest first, so the score of a "
                "module with mutants not run is over those that ran, and is not yet the module's score.",
                "",
            ]
            if total["not checked"]
            else []
        ),
        *(
            [
                "Modules marked * show the counts of the run before the ledger ("
                + ", ".join(sorted({old["commit"] for old in carried.values()}))
                + "), which ran more of their mutants than the ledger holds yet; its per-mutant results were "
                "not kept, its survivors are listed below with the rest.",
                "",
            ]
            if carried
            else []
        ),
        *(
            [
                "Notes kept in the ledger (`notes`), written by hand after a run:",
                "",
                *(f"- {note}" for note in ledger.get("notes", [])),
                "",
            ]
            if ledger.get("notes")
            else []
        ),
        "A mutant is one small change to the code (an operator flipped, a constant changed, a string "
        "altered, an argument dropped); it is killed when some test fails on it (a timeout counts: the "
        "mutant hung the tests). 'no tests' means no selected test reaches the mutated function. "
        "'equivalent': survivors that cannot change a number, a verdict or a crash a user sees, each "
        "with its reason below. The score is killed / (mutants run - equivalent). Error and warning "
        "texts are not mutated (`do_not_mutate_patterns`): the hostile tests assert the messages.",
        "",
        "| module | mutants | not run | killed | survived | no tests | equivalent | score |",
        "|---|---|---|---|---|---|---|---|",
    ]
    shown = [
        (name, status, diff, reason(diff, name) if status == "survived" else unreached(name, status))
        for name, status, diff in survivors
    ]
    equivalent = collections.Counter(name.split(".x")[0] for name, _, _, why in shown if not why.startswith("not yet"))
    equivalent["all"] = sum(equivalent.values())
    for module, counts in sorted(per_module.items()) + [("all", total)]:
        n = sum(counts.values())
        caught = counts["killed"] + counts["timeout"]
        real = n - counts["not checked"] - equivalent[module]
        score = f"{caught / real:.1%}" if real else "-"
        mark = "*" if module in carried else ""
        lines.append(
            f"| {module}{mark} | {n} | {counts['not checked']} | {caught} | {counts['survived']} | "
            f"{counts['no tests']} | {equivalent[module]} | {score} |"
        )
    kinds = collections.Counter(why for *_, why in shown)
    lines += ["", "## Survivors by reason", "", "| reason | mutants |", "|---|---|"]
    lines += [f"| {why} | {n} |" for why, n in kinds.most_common()]
    lines += ["", "## Survivors", ""]
    for name, status, diff, why in sorted(shown, key=lambda x: (not x[3].startswith("not yet"), x[0])):
        lines += [f"- `{name}` ({status}): {why}", "  ```diff", *("  " + x for x in diff), "  ```"]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{total['killed']} of {sum(total.values())} mutants killed; written to {OUT}")
    return sorted(name for name, _, _, why in shown if not why.startswith("not yet"))


if __name__ == "__main__":
    main()
