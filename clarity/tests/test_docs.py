"""The repository carries its own documentation (issue #12).

No file may send a reader to a document outside the repository (the contract the project
started from is not shipped with it), and every relative link in README.md and docs/ must
land on a file and heading that exist, so a renamed section cannot leave a dead link.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "node_modules", "staticfiles", "__pycache__", ".pytest_cache", ".ruff_cache"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".ini", ".cfg", ".txt", ".yml", ".yaml", ".sh", ".html", ".json", ".lua"}
TEXT_NAMES = {"Makefile", "run"}  # .ci/run

# Built from pieces so that this file does not match itself.
OUTSIDE = re.compile(
    "|".join(
        [
            re.escape("../" + "shared"),
            re.escape("/work/" + "shared"),
            r"\b(?:DOMAIN|API|STYLE|PERFORMANCE)" + re.escape(".md"),
            re.escape("bench/" + "README"),
        ]
    )
)
MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def repo_text_files():
    for path in ROOT.rglob("*"):
        if any(part in SKIP_DIRS for part in path.relative_to(ROOT).parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES):
            yield path


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    anchors, seen = set(), {}
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    for match in re.finditer(r"^#+\s+(.+?)\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_no_file_points_to_documents_outside_the_repository():
    offenders = []
    for path in repo_text_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert offenders == []


def test_the_readme_lists_every_document_in_docs():
    readme = (ROOT / "README.md").read_text()
    for doc in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{doc.name})" in readme, doc.name


def test_every_relative_link_in_the_documentation_lands():
    dead = []
    for path in MARKDOWN:
        text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
        for link in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", link):
                continue  # http(s), mailto: not ours to check offline
            target, _, fragment = link.partition("#")
            file = (path.parent / target).resolve() if target else path
            if not file.exists():
                dead.append(f"{path.relative_to(ROOT)}: {link} (no such file)")
            elif fragment and file.suffix == ".md" and fragment not in heading_anchors(file):
                dead.append(f"{path.relative_to(ROOT)}: {link} (no such heading)")
    assert dead == []
