"""Which planner a turn uses: the local LLM when one is here and wanted, else the rules.

Shared by `recall ask` (one turn per process) and `recall chat` (one process, many turns).
"""
from __future__ import annotations

import contextlib
import threading

PHRASING_CONTEXT = 512  # tokens: a question prompt is ~120


def choose_planner(settings, no_llm: bool, load: str = "background"):
    """(planner, question phraser, note): the LLM's when a model is here and wanted; else the
    rules' and no phraser, with a note saying why.

    ``load``: "background" starts loading the weights in a thread (the rules' quick search runs
    meanwhile), "now" loads them before returning (the chat app calls this from a worker),
    "lazy" leaves it to the first call."""
    from agent.dialogue import rules_planner

    if no_llm or not settings.use_llm:
        return rules_planner, None, None
    from tools.models.llm import LLMUnavailable, LocalLLM, find_llm, idle_threads

    path = find_llm(settings.models_dir, settings.llm_model)
    if path is None:
        return rules_planner, None, ("no local LLM: planning with rules (python -m tools.models.llm_setup "
                                     f"--size 1.5b --models-dir {settings.models_dir} adds one)")
    try:
        from agent.llm_planner import make_llm_planner
        from agent.phrasing import make_llm_phraser

        # The evaluated prompt prefix is kept on disk: a fresh `recall ask` need not re-read it.
        threads, state_dir = idle_threads(settings.llm_threads), settings.cache_dir / "llm-state"
        llm = LocalLLM(path, threads=threads, state_dir=state_dir)
        # Questions get a context of their own (small; the weights are shared through mmap), so
        # wording one does not evict the planner's long cached prefix.
        wording = LocalLLM(path, n_ctx=PHRASING_CONTEXT, threads=threads, state_dir=state_dir)
        if load == "now":
            llm.load()
    except (LLMUnavailable, ImportError) as error:
        return rules_planner, None, f"LLM off ({error}): planning with rules"
    if load == "background":
        threading.Thread(target=_load_quietly, args=(llm,), daemon=True).start()
    return make_llm_planner(llm), make_llm_phraser(wording), None


def _load_quietly(llm) -> None:
    with contextlib.suppress(Exception):  # the planner's own call reports and falls back
        llm.load()
