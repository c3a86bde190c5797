"""Every relative link in the READMEs and docs/ leads to a file in this repository.

A link that leaves the repository (``../shared/...``) or names a file that was moved
works on the author's machine and nowhere else; anchors (``file.md#heading``) must
name a heading of the target, spelled the way GitHub turns headings into anchors.
Links are found by a real Markdown parser (markdown-it), so reference-style links
count; a code span that starts with ``../`` is a path a reader will follow too, and is
checked the same way.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt

REPO = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".venv", ".git", "node_modules"}


def documents() -> list[Path]:
    """README.md, docs/*.md, bench/README.md and every package's README (one beside a pyproject.toml)."""
    found = {REPO / "README.md", REPO / "bench" / "README.md", *(REPO / "docs").glob("*.md")}
    for pyproject in REPO.rglob("pyproject.toml"):
        if SKIPPED_DIRS.isdisjoint(pyproject.relative_to(REPO).parts):
            readme = pyproject.parent / "README.md"
            if readme.exists():
                found.add(readme)
    return sorted(found)


def _inline_tokens(text: str) -> Iterator:
    for token in MarkdownIt("commonmark").enable("table").parse(text):
        if token.type == "inline":
            yield token


def links(text: str) -> list[str]:
    """Every link and image target in a Markdown text, and code spans naming a path upwards."""
    out = []
    for token in _inline_tokens(text):
        for child in token.children or ():
            if child.type == "link_open":
                out.append(str(child.attrGet("href")))
            elif child.type == "image":
                out.append(str(child.attrGet("src")))
            elif child.type == "code_inline" and child.content.startswith("../"):
                out.append(child.content)
    return out


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a document's headings (a repeated heading gets -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    out = set()
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    for opening, inline in itertools.pairwise(tokens):
        if opening.type == "heading_open":
            slug = github_anchor("".join(c.content for c in inline.children or () if c.type in
                                         ("text", "code_inline")))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            out.add(slug if count == 0 else f"{slug}-{count}")
    return out


def broken_links(document: Path, root: Path = REPO) -> list[str]:
    """One line per link of ``document`` that does not resolve inside ``root``."""
    problems = []
    for target in links(document.read_text()):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            continue  # a web address: not checked here (no network)
        path, anchor = unquote(parts.path), unquote(parts.fragment)
        resolved = (document.parent / path).resolve() if path else document
        if not resolved.is_relative_to(root):
            problems.append(f"{target}: outside the repository")
        elif not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text()):
            problems.append(f"{target}: no heading #{anchor} in {resolved.relative_to(root)}")
    return problems


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve_inside_the_repository(document: Path) -> None:
    assert broken_links(document) == []


def test_the_documents_are_found() -> None:
    names = {str(p.relative_to(REPO)) for p in documents()}
    assert {"README.md", "docs/platform-support.md", "stax-core/README.md",
            "staxd/staxd-linux/README.md"} <= names


def test_a_link_outside_the_repository_a_missing_file_and_a_wrong_anchor_are_caught(
        tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "page.md").write_text("# Page\n\n## At a glance\n\n## At a glance\n")
    (tmp_path / "outside.md").write_text("# Outside\n")
    readme = root / "README.md"
    readme.write_text(
        "[out](../outside.md) [gone](docs/nothing.md) [ok](docs/page.md) "
        "[web](https://example.org/x.md) `[code](nowhere.md)` `../outside.md` `docs/x.md`\n\n"
        "[bad anchor](docs/page.md#no-such-heading) [good](docs/page.md#at-a-glance) "
        "[second](docs/page.md#at-a-glance-1) [self](#the-top) [ref][r]\n\n"
        "# The top\n\n[r]: docs/missing-ref.md\n")
    assert broken_links(readme, root) == [
        "../outside.md: outside the repository",
        "docs/nothing.md: no such file",
        "../outside.md: outside the repository",
        "docs/page.md#no-such-heading: no heading #no-such-heading in docs/page.md",
        "docs/missing-ref.md: no such file",
    ]
