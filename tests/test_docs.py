"""Every relative link in the README and docs/ leads somewhere: the file exists and, where
the link names a heading (#anchor), the heading is there."""

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    found, seen, fenced = set(), {}, False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("#"):
            continue
        slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # not in code blocks
    text = re.sub(r"`[^`\n]*`", "", text)
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def test_there_is_a_manual_with_a_page_per_topic():
    names = {page.name for page in PAGES}
    for topic in ("training", "translating", "serving", "scoring", "recipes", "performance", "model",
                  "reliability", "python"):
        assert f"{topic}.md" in names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        goal = (page.parent / path).resolve() if path else page
        assert goal.exists(), f"{page.name}: link to {target}: {goal} does not exist"
        if anchor:
            assert anchor in anchors(goal), f"{page.name}: link to {target}: no heading #{anchor} in {goal.name}"


def test_the_readme_links_every_page_of_the_manual():
    linked = {Path(target.partition("#")[0]).name for target in relative_links(ROOT / "README.md")}
    for page in PAGES[1:]:
        assert page.name in linked, f"README.md does not link docs/{page.name}"


def test_the_link_checker_finds_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\nSee [there](missing.md) and [here](#title) and [no](#nothing).\n", encoding="utf-8")
    assert relative_links(page) == ["missing.md", "#title", "#nothing"]
    assert "title" in anchors(page) and "nothing" not in anchors(page)
