"""report.html: escaping of hostile input, self-containment, and rendering in headless Chromium."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_report import make_run

from asr_eval.report import write_reports
from asr_eval.report.html import script_json

EVIL_REF = "<script>alert('ref')</script> \"quoted\" <b>bold</b> & </script><!--"
EVIL_TERM = "<img src=x onerror=alert('term')>"
EVIL_GROUP = "<svg onload=alert(1)>'\""


@pytest.fixture(scope="module")
def evil_run(tmp_path_factory) -> Path:
    d = make_run(tmp_path_factory.mktemp("evil"), extra_text=EVIL_REF, term_override=EVIL_TERM,
                 group_names=[EVIL_GROUP, "ok-group", "other</td>"])
    run = json.loads((d / "run.json").read_text(encoding="utf-8"))
    run["command"] = "asr-eval run '<script>alert(\"cmd\")</script>'"
    run["engine"]["model"] = "</script><script>alert('model')</script>"
    (d / "run.json").write_text(json.dumps(run), encoding="utf-8")
    write_reports(d, n_boot=100)
    return d


def _script_bodies(html: str) -> list[str]:
    return re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.DOTALL)


def test_injected_markup_is_escaped(evil_run: Path) -> None:
    html = (evil_run / "report.html").read_text(encoding="utf-8")
    # Exactly our two script elements: the JSON data block and the page's own code.
    assert len(re.findall(r"<script\b", html)) == 2
    for raw in ("<script>alert", "<img src=x", "<svg onload", "<b>bold</b>", "other</td>", "<!--"):
        assert raw not in html, raw
    # The hostile strings are there, escaped, so the reader sees what was said.
    assert "&lt;script&gt;alert(&#39;ref&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(&#39;term&#39;)&gt;" in html
    assert "&lt;svg onload=alert(1)&gt;" in html
    # Inside the JSON data block nothing can close the element, and it parses back to the same strings.
    data_block = _script_bodies(html)[0]
    assert "<" not in data_block and ">" not in data_block
    data = json.loads(data_block)
    assert EVIL_GROUP in data["groups"]


def test_markdown_escapes_markup(evil_run: Path) -> None:
    md = (evil_run / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in md and "<img" not in md and "<svg" not in md
    assert "&lt;script&gt;alert" in md


def test_script_json_round_trips() -> None:
    s = {"a": "</script><!-- & \u2028 >"}
    out = script_json(s)
    assert "<" not in out and ">" not in out and "&" not in out and "\u2028" not in out
    assert json.loads(out) == s


def test_self_contained(evil_run: Path) -> None:
    html = (evil_run / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html
    for section in ("verdicts", "fairness", "summary", "comparisons", "terms", "explanations", "worst", "utterances",
                    "provenance"):
        assert f'id="{section}"' in html
    assert html.count("<svg") >= 3  # WER by group, gain per group, term recall vs false insertions


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package 'chromium')")
def test_renders_in_headless_chromium(evil_run: Path, tmp_path: Path) -> None:
    url = (evil_run / "report.html").resolve().as_uri()
    shot = tmp_path / "report.png"
    r = chromium(["--window-size=1280,2000", f"--screenshot={shot}", url], tmp_path / "profile1")
    assert shot.exists() and shot.stat().st_size > 20_000, r.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # --dump-dom prints the DOM after scripts ran: the filter script has filled in its count,
    # no injected element exists, and every section is there.
    dom = chromium(["--virtual-time-budget=3000", "--dump-dom", url], tmp_path / "profile2").stdout
    assert "utterances shown" in dom
    assert "alert(" not in re.sub(r"&[^;]+;", "", "".join(re.findall(r"<(?:img|svg|script)[^>]*>", dom)))
    for title in ("Verdicts", "Fairness across accent groups", "Summary per accent group and condition",
                  "Why terms were missed or inserted", "Utterances, aligned word by word"):
        assert title in dom


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package 'chromium')")
def test_filters_select_utterances_by_group_and_term(tmp_path: Path) -> None:
    d = make_run(tmp_path / "run")
    write_reports(d, n_boot=50, formats=("html",))
    with open(d / "utterances.csv", encoding="utf-8") as f:
        utts = list(csv.DictReader(f))
    with open(d / "terms.csv", encoding="utf-8") as f:
        terms = list(csv.DictReader(f))
    in_group = {u["utt_id"] for u in utts if u["accent_group"] == "group-b"}
    with_term = {t["utt_id"] for t in terms if t["term"] == "Klarvo"}
    url = (d / "report.html").resolve().as_uri()
    for i, (frag, expected) in enumerate([("", len({u["utt_id"] for u in utts})), ("#group=group-b", len(in_group)),
                                          ("#group=group-b&term=Klarvo", len(in_group & with_term))]):
        dom = chromium(["--virtual-time-budget=3000", "--dump-dom", url + frag], tmp_path / f"p{i}").stdout
        shown = re.search(r'id="f-count">(\d+) utterances shown', dom)
        assert shown and int(shown.group(1)) == expected, (frag, shown and shown.group(0))
        # Hidden cards are still in the page: filtering hides, it never drops data.
        assert dom.count('class="utt') >= expected
