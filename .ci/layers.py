#!/usr/bin/env python3
"""Checks that src/ reads in layers: no cycle between top-level modules, nothing below lib.rs
using an item defined in lib.rs, no file over MAX_LINES lines and no function over MAX_FN lines.

    python3 .ci/layers.py [src]

Module edges are the `crate::NAME` paths of non-test code: inline `#[cfg(test)] mod NAME { .. }`
blocks and comments are left out. Files are counted whole, tests included. Exits 1 on a failure
and prints what to fix.
"""
import os
import re
import sys
from collections import defaultdict

SRC = sys.argv[1] if len(sys.argv) > 1 else "src"
MAX_LINES = 800
MAX_FN = 100

lib = open(os.path.join(SRC, "lib.rs"), encoding="utf-8").read()
UNITS = set(re.findall(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+([a-z_0-9]+)\s*;", lib, re.M))
LIB_ITEMS = set(
    re.findall(r"^\s*pub\s+(?:const|static|fn|struct|enum|type|trait)\s+([A-Za-z_0-9]+)", lib, re.M)
)
TEST_MOD = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+[a-z_0-9]+\s*\{")
FN = re.compile(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?(?:const\s+)?(?:unsafe\s+)?fn\s+(\w+)")


def code_only(line):
    """The line without string and char literals and without a trailing comment."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split("//")[0]


def strip_tests(text):
    out, i = [], 0
    while True:
        m = TEST_MOD.search(text, i)
        if not m:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j


def crate_refs(text):
    names = set(re.findall(r"crate::([A-Za-z_0-9]+)", text))
    for m in re.finditer(r"crate::\{", text):
        depth, j, start = 1, m.end(), m.end()
        while j < len(text) and depth:
            c = text[j]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            if depth == 1 and c == "," or depth == 0:
                head = re.match(r"\s*([A-Za-z_0-9]+)", text[start:j])
                if head:
                    names.add(head.group(1))
                start = j + 1
            j += 1
    return names


def long_functions(path, lines):
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m:
            continue
        depth, started = 0, False
        for j in range(i, len(lines)):
            s = code_only(lines[j])
            if not started and ";" in s and "{" not in s:
                break
            for c in s:
                if c == "{":
                    depth, started = depth + 1, True
                elif c == "}":
                    depth -= 1
            if started and depth == 0:
                if j - i + 1 > MAX_FN:
                    yield f"{path}:{i + 1}: fn {m.group(1)} has {j - i + 1} lines (limit {MAX_FN})"
                break


edges = defaultdict(set)
problems = []
for root, _, files in os.walk(SRC):
    for name in sorted(files):
        if not name.endswith(".rs"):
            continue
        path = os.path.join(root, name)
        text = open(path, encoding="utf-8").read()
        lines = text.split("\n")
        if len(lines) - 1 > MAX_LINES:
            problems.append(f"{path}: {len(lines) - 1} lines (limit {MAX_LINES})")
        problems.extend(long_functions(path, lines))
        first = os.path.relpath(path, SRC).split(os.sep)[0]
        unit = "lib" if first == "lib.rs" else first.removesuffix(".rs")
        code = re.sub(r"//[^\n]*", "", strip_tests(text))
        for ref in crate_refs(code):
            target = ref if ref in UNITS else ("lib" if ref in LIB_ITEMS else None)
            if target and target != unit:
                edges[unit].add(target)

for unit in sorted(edges):
    if "lib" in edges[unit]:
        problems.append(f"{unit} uses items defined in lib.rs: define them where they are used")

# Cycles: strongly connected components of more than one unit (Tarjan).
index, low, stack, on_stack, sccs = {}, {}, [], set(), []


def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        scc = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            scc.append(w)
            if w == v:
                break
        if len(scc) > 1:
            sccs.append(sorted(scc))


for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
    if v not in index:
        visit(v)
for scc in sccs:
    detail = "; ".join(f"{u} -> {', '.join(sorted(edges[u] & set(scc)))}" for u in scc)
    problems.append(f"module cycle: {' <-> '.join(scc)} ({detail})")

for p in problems:
    print(p)
print(f"layers: {len(UNITS)} modules, {len(sccs)} cycles, {len(problems)} problems")
sys.exit(1 if problems else 0)
