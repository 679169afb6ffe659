"""The README stays short and true, and the rest is a MkDocs site that builds strictly.

- the README: at most 300 lines, and its first 60 hold the question, the generated cross-task verdict table and
  the two commands;
- every relative link of the README and docs/ leads to a file of the repository (mkdocs checks links between
  pages; links into results/, notebooks/ and benchmarks/ leave docs/, so this test checks those);
- nothing points outside the repository (no ``../shared``, no absolute paths of the machine that wrote it);
- ``mkdocs build --strict`` succeeds.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hf_rnn.report import verdict_table as verdict_table

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_the_readme_is_short_and_opens_with_the_question_the_verdict_and_the_commands():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300, f"the README has {len(lines)} lines: move the detail to docs/"
    head = "\n".join(lines[:60])
    assert "What does a transformer buy me over a well-built RNN" in head
    assert verdict_table.BEGIN in head and verdict_table.END in head, "the verdict table is not in the first 60 lines"
    assert "make demo" in head and "make test" in head


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_every_relative_link_leads_to_a_file_of_the_repository(page):
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
        elif REPO not in path.parents and path != REPO:
            broken.append(f"{target} (outside the repository)")
    assert not broken, f"{page.relative_to(REPO)}: links that lead nowhere: {broken}"


def test_nothing_points_outside_the_repository():
    outside = re.compile(r"\.\./shared|/work/|/home/|/root/|/tmp/pytest")
    found = []
    for path in [*PAGES, *sorted((REPO / "results").rglob("*.json")), *sorted((REPO / "results").rglob("*.md"))]:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if outside.search(line):
                found.append(f"{path.relative_to(REPO)}:{i}: {line.strip()[:100]}")
    assert not found, "lines that point outside the repository:\n" + "\n".join(found)


def test_the_docs_site_builds_strictly(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    assert mkdocs, "mkdocs is a dev dependency (pyproject.toml): make setup installs it"
    done = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "index.html").exists() and (tmp_path / "site" / "results" / "index.html").exists()
