"""No file of the repository names a path of somebody's machine (a work directory, a home folder):
what is committed must work from any clone. Paths inside a container image (deploy/, e.g.
Ollama's model folder) belong to the image, not to a machine, and are allowed there."""

from __future__ import annotations

import re
from pathlib import Path

from core.config import PROJECT_ROOT

FOLDERS = ("adapters", "benchmarks", "bot", "core", "deploy", "docs", "examples", "fakes", "scripts", "tests")
SKIPPED = {".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis", "node_modules"}
TEXT = {".py", ".md", ".toml", ".yaml", ".yml", ".sh", ".txt", ".csv", ".json", ".jsonl", ".js", ".html", ".css",
        ".service", ".conf", ".cfg", ".ini", ""}
# a work folder, a home folder (Linux, macOS) anywhere; root's home outside the container files of deploy/
MACHINE = re.compile("/" + "(?:work|home|Users)/[A-Za-z0-9_.-]")
ROOT_HOME = re.compile("/" + "root/")


def _files() -> list[Path]:
    out = [p for p in PROJECT_ROOT.iterdir() if p.is_file() and p.suffix in TEXT and not p.name.startswith(".")]
    for folder in FOLDERS:
        for path in (PROJECT_ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in TEXT and not SKIPPED & set(path.relative_to(PROJECT_ROOT).parts):
                out.append(path)
    return out


def test_no_file_names_a_path_of_a_machine():
    found = []
    for path in _files():
        rel = path.relative_to(PROJECT_ROOT)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if MACHINE.search(line) or (rel.parts[0] != "deploy" and ROOT_HOME.search(line)):
                found.append(f"{rel}:{n}: {line.strip()[:120]}")
    assert len(_files()) > 300  # the walk found the repository
    assert not found, "\n".join(found)
