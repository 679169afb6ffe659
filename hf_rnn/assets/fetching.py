"""Fetch every built-in asset: the model (``hf_rnn.assets.cache``) and each task's data (``hf_rnn.tasks``).

``hf_rnn.assets.cache`` is the cache the tasks build their data in; this module sits above both, since fetching
"everything" means asking each task for its data.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from hf_rnn.assets.cache import builtin_llm_path, check_cached, clean_stale_temporaries, ensure_builtin_llm
from hf_rnn.errors import AssetError
from hf_rnn.tasks import TASKS, get_task_class


def fetch(names: list[str] | None = None, progress: bool = True, verify: bool = False) -> dict[str, Path]:
    """Fetch, verify and cache the built-in model and task data; return their folders.

    ``names`` picks among ``"model"`` and the task names; default all. Idempotent: what
    is already cached (and passes the size check of its manifest) is not touched;
    ``verify=True`` also recomputes every cached file's sha256 and rebuilds what differs.
    """
    from hf_rnn.arguments import list_argument

    wanted = list_argument(names, "fetch: names", optional=True) or ["model", *TASKS]
    unknown = [n for n in wanted if n != "model" and n not in TASKS]
    if unknown:
        raise AssetError(f"nothing called {', '.join(map(repr, unknown))} to fetch; choose from: model, "
                         f"{', '.join(TASKS)}")
    clean_stale_temporaries()
    if verify:
        for name in wanted:
            folder = builtin_llm_path() if name == "model" else get_task_class(name).builtin_path()
            problem = check_cached(folder, full=True)
            if problem not in (None, "missing"):
                print(f"[hf_rnn] {name}: {problem}; rebuilding", file=sys.stderr)
                shutil.rmtree(folder, ignore_errors=True)
    out: dict[str, Path] = {}
    for name in wanted:
        if name == "model":
            out[name] = ensure_builtin_llm(progress=progress)
        else:
            out[name] = get_task_class(name).ensure_builtin()
    return out


def cache_report() -> list[tuple[str, str, Path]]:
    """``(name, state, path)`` for each built-in asset: 'cached', 'missing' or 'damaged' (fast check)."""
    rows = []
    for name in ["model", *TASKS]:
        p = builtin_llm_path() if name == "model" else get_task_class(name).builtin_path()
        problem = check_cached(p)
        rows.append((name, "cached" if problem is None else "missing" if problem == "missing" else "damaged", p))
    return rows
