"""The Design page (docs/design.md) names every module of hf_rnn, so that it stays a map of the code."""

from __future__ import annotations

from pathlib import Path

from hf_rnn.tasks import TASKS

REPO = Path(__file__).resolve().parent.parent


def _design_section() -> str:
    text = (REPO / "docs" / "design.md").read_text(encoding="utf-8")
    assert text.startswith("# Design\n"), "docs/design.md is not the Design page"
    return text


def test_the_design_section_names_every_module():
    section = _design_section()
    task_modules = {cls.__module__.rsplit(".", 1)[-1] for cls in TASKS.values()}  # "one module per task"
    missing = []
    for path in sorted((REPO / "hf_rnn").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if path.name == "__init__.py" or rel.startswith("hf_rnn/commands/"):  # "one module per subcommand"
            continue
        if rel.startswith("hf_rnn/tasks/") and path.stem in task_modules:
            continue
        if f"`{rel}`" not in section and f"`{path.name}`" not in section:
            missing.append(rel)
    assert not missing, f"modules the Design page (docs/design.md) does not name: {missing}"
