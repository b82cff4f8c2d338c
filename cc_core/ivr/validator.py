"""Checks across the nodes of a script and across files, each problem at file:line:col.

Per-field rules are pydantic's (:mod:`cc_core.ivr.model`); here: unknown targets, unreachable
nodes, loops a caller can never leave or that wait for nothing, prompts missing in a language,
unknown calendars, queues not in ``queues.yaml`` and a chosen language the script lacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cc_core.config.problems import Problem, Severity, did_you_mean, sorted_problems
from cc_core.config.validation import validate_document
from cc_core.config.yaml_source import Document, load_document
from cc_core.ivr.model import (
    INPUT_NODES,
    CallbackNode,
    CollectNode,
    HoursNode,
    QueueNode,
    Script,
    SetNode,
    node_prompts,
    successors,
)
from cc_core.ivr.prompts import PromptSet

WARNING = Severity.WARNING
PROMPTS_DIR = "prompts"


def load_prompt_sets(folder: Path) -> tuple[dict[str, PromptSet], list[Problem]]:
    """Every ``<lang>.yaml`` of ``folder`` that is valid, and the problems of all of them."""
    sets: dict[str, PromptSet] = {}
    problems: list[Problem] = []
    if not folder.is_dir():
        return sets, problems
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        doc, found = load_document(path, str(path))
        problems += found
        if doc is None:
            continue
        result = validate_document(doc, PromptSet)
        problems += result.problems
        model = result.model
        if model is None:
            continue
        if model.language != path.stem:
            problems.append(doc.problem(("language",), f"language '{model.language}' in a file "
                                        f"named {path.name} (expected '{path.stem}')"))
            continue
        sets[model.language] = model
    return sets, problems


def validate_script(doc: Document) -> tuple[Script | None, Script, list[Problem]]:
    """(model when fully valid, partial model, field problems) for one script document."""
    result = validate_document(doc, Script)
    return result.model, result.partial, result.problems


def check_script(doc: Document, script: Script, prompts: Mapping[str, PromptSet] | None,
                 queue_ids: Iterable[str] | None,
                 skill_ids: Iterable[str] | None = None) -> list[Problem]:
    """Cross-node and cross-file problems of one (possibly partial) script.

    ``prompts`` None: the prompt folder could not be read, prompts are not checked;
    ``queue_ids`` / ``skill_ids`` None: queues.yaml / agents.yaml could not be read, queue /
    skill ids are not checked.
    """
    data = doc.data if isinstance(doc.data, dict) else {}
    raw_nodes = data.get("nodes") if isinstance(data.get("nodes"), dict) else {}
    written = [n for n in raw_nodes if isinstance(n, str)]
    # A partial model lacks the fields that failed validation (or holds None for them).
    raw = getattr(script, "nodes", None)
    nodes = {k: v for k, v in raw.items() if v is not None} if isinstance(raw, dict) else {}
    problems: list[Problem] = []

    def target(loc: tuple[str | int, ...], name: str) -> None:
        if name not in written:
            hint = did_you_mean(name, written) or (
                f" (expected one of {', '.join(written[:8])})" if written else "")
            problems.append(doc.problem(loc, f"unknown node '{name}'{hint}"))

    start = data.get("start")
    if isinstance(start, str) and isinstance(data.get("nodes"), dict):
        target(("start",), start)  # without nodes, "nodes is missing" says it all
    for node_id, node in nodes.items():
        for loc, name in successors(node):
            target(("nodes", node_id, *loc), name)
    problems += _unreachable(doc, start, nodes, written)
    problems += _loops(doc, nodes)
    problems += _languages(doc, script, nodes, prompts)
    problems += _references(doc, script, nodes, queue_ids)
    problems += _skills(doc, nodes, skill_ids)
    problems += _survey(doc, script, nodes)
    return problems


def _skills(doc: Document, nodes: Mapping[str, Any],
            skill_ids: Iterable[str] | None) -> list[Problem]:
    if skill_ids is None:
        return []
    known = sorted(skill_ids)
    problems = []
    for node_id, node in nodes.items():
        for skill in node.skills if isinstance(node, QueueNode) else {}:
            if skill not in known:
                hint = did_you_mean(skill, known) or (
                    f" (expected a skill id in agents.yaml: {', '.join(known[:8])})")
                problems.append(doc.problem(("nodes", node_id, "skills", skill),
                                            f"unknown skill '{skill}'{hint}", key=True))
    return problems


def _survey(doc: Document, script: Script, nodes: Mapping[str, Any]) -> list[Problem]:
    survey = getattr(script, "survey", None)
    if survey is None or not nodes:
        return []
    if any(isinstance(n, CollectNode) and n.into == survey.score for n in nodes.values()):
        return []
    return [doc.problem(("survey", "score"), f"no collect node stores into '{survey.score}' "
                        "(expected one with into: " + survey.score + "): the survey never "
                        "has a score", severity=WARNING)]


def _graph(nodes: Mapping[str, Any]) -> dict[str, list[str]]:
    return {n: [t for _, t in successors(node) if t in nodes] for n, node in nodes.items()}


def _unreachable(doc: Document, start: Any, nodes: Mapping[str, Any],
                 written: list[str]) -> list[Problem]:
    if not isinstance(start, str) or start not in written:
        return []
    # Targets that failed validation are followed too (they have no known successors).
    graph = {n: [t for _, t in successors(node) if t in written] for n, node in nodes.items()}
    seen, stack = {start}, [start]
    while stack:
        for nxt in graph.get(stack.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    # A node that failed validation has no known successors; what it leads to is not judged.
    if any(n not in nodes for n in seen):
        return []
    return [doc.problem(("nodes", n), f"node '{n}' is unreachable from start '{start}'",
                        key=True, severity=WARNING) for n in written if n not in seen]


def _loops(doc: Document, nodes: Mapping[str, Any]) -> list[Problem]:
    """Cycles without input (a caller would spin for ever) and with no way out."""
    graph = _graph(nodes)
    problems = []
    for component in _cycles(graph):
        members = set(component)
        first = component[0]
        path = " -> ".join([*component, first])
        if not any(isinstance(nodes[n], INPUT_NODES) for n in component):
            problems.append(doc.problem(("nodes", first), f"loop with no input: {path} "
                                        "(expected a menu or collect node in the loop)",
                                        key=True))
            continue
        leaves = any(t not in members for n in component for _, t in successors(nodes[n]))
        if not leaves:
            problems.append(doc.problem(("nodes", first), f"loop with no exit: {path} "
                                        "(expected an option or fallback that leaves it)",
                                        key=True))
    return problems


def _cycles(graph: Mapping[str, list[str]]) -> list[list[str]]:
    """Strongly connected components that contain a cycle (Tarjan), in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(root: str) -> None:
        # Iterative so that a long chain of nodes cannot exhaust Python's recursion limit.
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    order = list(graph)
                    found.append(sorted(component, key=order.index))

    for name in graph:
        if name not in index:
            visit(name)
    return found


def _languages(doc: Document, script: Script, nodes: Mapping[str, Any],
               prompts: Mapping[str, PromptSet] | None) -> list[Problem]:
    raw = getattr(script, "languages", None)
    languages = [lang for lang in raw if isinstance(lang, str)] if isinstance(raw, list) else []
    default = getattr(script, "language", None)
    problems = []
    if isinstance(default, str) and languages and default not in languages:
        problems.append(doc.problem(("language",), f"default language '{default}' is "
                                    f"not in languages ({', '.join(languages)})"))
    for node_id, node in nodes.items():
        if isinstance(node, SetNode):
            chosen = node.values.get("language")
            if isinstance(chosen, str) and "{" not in chosen and chosen not in languages:
                problems.append(doc.problem(
                    ("nodes", node_id, "values", "language"), f"language '{chosen}' is not in "
                    f"the script's languages ({', '.join(languages)})"))
    if prompts is None:
        return problems
    for i, language in enumerate(languages):
        if language not in prompts:
            problems.append(doc.problem(("languages", i), f"no prompt set for language "
                                        f"'{language}' (expected {PROMPTS_DIR}/{language}.yaml)"))
    for node_id, node in nodes.items():
        for name, k, prompt_id in node_prompts(node):
            missing = [lang for lang in languages
                       if lang in prompts and prompt_id not in prompts[lang].prompts]
            if missing:
                files = ", ".join(f"{PROMPTS_DIR}/{lang}.yaml" for lang in missing)
                known = [p for lang in missing for p in prompts[lang].prompts]
                problems.append(doc.problem(
                    ("nodes", node_id, name, k), f"prompt '{prompt_id}' is missing for "
                    f"{', '.join(missing)} (expected it in {files}){did_you_mean(prompt_id, known)}"
                ))
    return problems


def _references(doc: Document, script: Script, nodes: Mapping[str, Any],
                queue_ids: Iterable[str] | None) -> list[Problem]:
    problems = []
    raw = doc.data.get("calendars") if isinstance(doc.data, dict) else None
    written = [str(name) for name in raw] if isinstance(raw, dict) else []
    queues = sorted(queue_ids) if queue_ids is not None else None
    for node_id, node in nodes.items():
        if isinstance(node, HoursNode) and node.calendar not in written:
            hint = did_you_mean(node.calendar, written) or (
                f" (expected a name under 'calendars': {', '.join(written)})" if written
                else " (expected a name under 'calendars', which lists none)")
            problems.append(doc.problem(("nodes", node_id, "calendar"),
                                        f"unknown calendar '{node.calendar}'{hint}"))
        if (isinstance(node, QueueNode | CallbackNode) and queues is not None
                and node.queue not in queues):
            hint = did_you_mean(node.queue, queues) or (
                f" (expected a queue id in queues.yaml: {', '.join(queues[:8])})")
            problems.append(doc.problem(("nodes", node_id, "queue"),
                                        f"unknown queue '{node.queue}'{hint}"))
    return problems


def check_scripts(docs: Iterable[Document], queue_ids: Iterable[str] | None,
                  prompt_folder: Path, skill_ids: Iterable[str] | None = None
                  ) -> tuple[dict[str, Script], list[Problem]]:
    """Valid scripts by name and every problem of the scripts and the prompt sets."""
    prompts, problems = load_prompt_sets(prompt_folder)
    scripts, found = check_documents(docs, queue_ids, prompts, skill_ids)
    return scripts, sorted_problems([*problems, *found])


def check_documents(docs: Iterable[Document], queue_ids: Iterable[str] | None,
                    prompts: Mapping[str, PromptSet] | None,
                    skill_ids: Iterable[str] | None = None
                    ) -> tuple[dict[str, Script], list[Problem]]:
    """Valid scripts by name and every problem of the scripts, against loaded prompt sets."""
    ids = list(queue_ids) if queue_ids is not None else None
    skills = list(skill_ids) if skill_ids is not None else None
    scripts: dict[str, Script] = {}
    problems: list[Problem] = []
    for doc in docs:
        model, partial, found = validate_script(doc)
        found += check_script(doc, partial, prompts, ids, skills)
        problems += found
        if model is not None and not any(p.is_error for p in found):
            scripts[model.name] = model
    return scripts, sorted_problems(problems)
