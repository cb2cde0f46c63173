#!/usr/bin/env python3
"""Figures about the shape of the code, for reviews of a redesign.

    python3 scripts/code_metrics.py [--rev REV] [--top N]

Prints, for the working tree (or a git revision):
- the import graph between the crate's top-level modules (`use crate::x` / `crate::x::`),
- its cycles (strongly connected components of more than one module),
- the imports that go up the layers ARCHITECTURE.md draws,
- the largest files and functions, in lines of code (blank lines, comments and `#[cfg(test)]`
  modules not counted).

It reads the source as text: it is a reviewer's tool, not a compiler pass.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

# The layers, top to bottom. A module may import those at its level or below.
# `commands` take the parsed arguments that `cli` defines (as uv's commands take uv-cli's),
# so `cli` sits below them and must not import them.
LAYERS = [
    ["entry"],
    ["commands"],
    ["cli"],
    ["ops", "remote"],
    # the domain: what StackStorm's objects are and do
    [
        "pack", "register", "action", "execution", "runner", "native", "config", "datastore",
        "index", "venv", "schema", "expressions", "redact", "oauth", "crypto", "casts",
        "orquesta", "yaql",
    ],
    # I/O and primitives
    ["store", "git", "yaml", "output", "settings", "lock", "fs", "sys", "tls", "failpoint"],
]
LEVEL = {module: level for level, modules in enumerate(LAYERS) for module in modules}


def sources(rev: str | None) -> dict[str, str]:
    if rev is None:
        return {str(p): p.read_text() for p in Path("src").rglob("*.rs")}
    names = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", rev, "src"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    return {
        name: subprocess.run(
            ["git", "show", f"{rev}:{name}"], check=True, capture_output=True, text=True
        ).stdout
        for name in names
        if name.endswith(".rs")
    }


def module_of(path: str) -> str | None:
    parts = Path(path).parts[1:]  # drop src/
    if parts[0] == "bin" or parts[0] in ("lib.rs", "main.rs"):
        return None
    return parts[0].removesuffix(".rs")


def strip_tests(text: str) -> str:
    """Drop `#[cfg(test)]` items (modules and functions), brace-matched."""
    out, i = [], 0
    while True:
        j = text.find("#[cfg(test)]", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        k = text.find("{", j)
        semi = text.find(";", j)
        if semi >= 0 and (k < 0 or semi < k):
            i = semi + 1
            continue
        depth, m = 0, k
        while m < len(text):
            if text[m] == "{":
                depth += 1
            elif text[m] == "}":
                depth -= 1
                if depth == 0:
                    break
            m += 1
        i = m + 1


def code_lines(text: str) -> list[str]:
    lines, in_block = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if in_block:
            if "*/" in stripped:
                in_block = False
            continue
        if stripped.startswith("/*"):
            in_block = "*/" not in stripped
            continue
        if not stripped or stripped.startswith("//"):
            continue
        lines.append(line)
    return lines


FN = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:unsafe\s+)?fn\s+(\w+)")


def functions(path: str, lines: list[str]):
    """(lines, path, name) per function, by indentation: its body ends at the first line
    back at its indentation that closes it."""
    for index, line in enumerate(lines):
        match = FN.match(line)
        if not match or line.rstrip().endswith(";"):
            continue
        indent = match.group(1)
        for end in range(index + 1, len(lines)):
            if lines[end].startswith(indent + "}") and not lines[end].startswith(indent + "} "):
                yield end - index + 1, path, match.group(2)
                break
            if lines[end].startswith(indent + "}"):
                yield end - index + 1, path, match.group(2)
                break


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", help="a git revision instead of the working tree")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()

    files = sources(args.rev)
    graph: dict[str, set[str]] = defaultdict(set)
    sizes, fns = [], []
    # Files that are a `#[cfg(test)] mod name;` of their directory's module.
    test_files = set()
    for path, text in files.items():
        directory = Path(path).parent
        for name in re.findall(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text):
            test_files.add(str(directory / f"{name}.rs"))
            test_files.add(str(directory / name / "mod.rs"))
    for path, text in sorted(files.items()):
        if path in test_files:
            continue
        module = module_of(path)
        code = strip_tests(text)
        if module:
            graph[module]
            # Imports in code only: a doc link to another layer is not a dependency.
            without_comments = "\n".join(
                line for line in code.splitlines() if not line.strip().startswith("//")
            )
            for target in re.findall(r"crate::([a-z_][a-z0-9_]*)", without_comments):
                if target != module:
                    graph[module].add(target)
        lines = code_lines(code)
        sizes.append((len(lines), path))
        fns.extend(functions(path, lines))

    print("import graph (module: what it imports)")
    for module in sorted(graph):
        print(f"  {module}: {' '.join(sorted(graph[module]))}")

    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                sccs.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    pairs = sorted(
        (a, b) for a in graph for b in graph[a] if a < b and a in graph.get(b, ())
    )
    print(f"\ncycles: {len(sccs)} strongly connected groups; {len(pairs)} pairs importing each other")
    for component in sccs:
        print(f"  {' <-> '.join(component)}")
    for a, b in pairs:
        print(f"  pair: {a} <-> {b}")

    upward = sorted(
        (a, b)
        for a in graph
        for b in graph[a]
        if a in LEVEL and b in LEVEL and LEVEL[b] < LEVEL[a]
    )
    print(f"\nupward imports: {len(upward)}")
    for a, b in upward:
        print(f"  {a} -> {b}")
    unknown = sorted(m for m in graph if m not in LEVEL)
    if unknown:
        print(f"  (modules not placed in a layer: {' '.join(unknown)})")

    print(f"\nlargest files (lines of code, tests not counted): {sum(s for s, _ in sizes)} in all")
    for size, path in sorted(sizes, reverse=True)[: args.top]:
        print(f"  {size:5} {path}")
    print(f"  files over 600: {sum(1 for s, _ in sizes if s > 600)}")

    print("\nlongest functions (lines of code)")
    for size, path, name in sorted(fns, reverse=True)[: args.top]:
        print(f"  {size:5} {path} {name}")
    print(f"  functions over 100: {sum(1 for s, _, _ in fns if s > 100)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
