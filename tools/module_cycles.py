#!/usr/bin/env python3
"""Module dependency cycles in a Rust crate, file by file.

Reads every `.rs` file of the crate rooted at `src/lib.rs` (default) and draws an edge from a file's module to
each module it names: `use` trees and inline paths starting with `crate::`, `super::` or `self::`, and paths
through a child module the file declares (`mod x;` then `x::...`). A re-export in a facade (`pub use` in a
`mod.rs` or `lib.rs`) is not a dependency of the facade; `mod` declarations are not either; test modules
(`#[cfg(test)] mod ...`) and comments are left out. Then the same between the crate's areas (its top-level
modules: `client`, `consumer`, `server`, ...) and between the siblings of every directory module
(`server::views`, `server::moves`, ...), each with everything below it, so that data flows one way between them
too: the shared client core uses none of the four clients, the clients use the core. Prints each cycle (strongly
connected group of modules, or of siblings) with the edges that close it and exits 1 when there is one, 0 when
there is none.

Usage: tools/module_cycles.py [SRC_DIR]   (default: src; the binary crates under src/bin are left out)
"""
import os
import re
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else "src"


def module_of(path):
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    return tuple(rel)


files = {}
for root, dirs, names in os.walk(SRC):
    if os.path.relpath(root, SRC).split(os.sep)[0] == "bin":
        continue
    for n in names:
        if n.endswith(".rs"):
            p = os.path.join(root, n)
            files[module_of(p)] = p
modules = set(files)


def strip(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = []
    skip_depth = None
    depth = 0
    pending_test = False
    for line in text.split("\n"):
        code = re.sub(r'"(\\.|[^"\\])*"', '""', line)
        code = code.split("//")[0]
        if skip_depth is None:
            if re.match(r"\s*#\[cfg\(test\)\]", code):
                pending_test = True
                continue
            if pending_test and re.match(r"\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", code):
                skip_depth = depth
            pending_test = False if not re.match(r"\s*#\[", code) else pending_test
        if skip_depth is None:
            out.append(code)
        depth += code.count("{") - code.count("}")
        if skip_depth is not None and depth <= skip_depth:
            skip_depth = None
    return "\n".join(out)


def resolve(mod, parts):
    """The module a path names (the longest prefix that is a module file)."""
    if parts[0] == "crate":
        base, rest = (), parts[1:]
    elif parts[0] in ("super", "self"):
        base = mod
        i = 0
        while i < len(parts) and parts[i] in ("super", "self"):
            if parts[i] == "super":
                base = base[:-1]
            i += 1
        rest = parts[i:]
    else:
        base, rest = mod, parts
    best = base if base in modules else None
    cur = base
    for p in rest:
        cur = cur + (p,)
        if cur in modules:
            best = cur
        else:
            break
    return best


def use_paths(tree, prefix=()):
    tree = tree.strip()
    m = re.match(r"^([\w:]*?)(::)?\{(.*)\}$", tree, re.S)
    if m:
        head = tuple(x for x in m.group(1).split("::") if x)
        body, depth, cur, items = m.group(3), 0, "", []
        for ch in body:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                items.append(cur)
                cur = ""
            else:
                cur += ch
        items.append(cur)
        for it in items:
            if it.strip():
                yield from use_paths(it, prefix + head)
        return
    tree = re.sub(r"\s+as\s+\w+$", "", tree)
    yield prefix + tuple(x for x in tree.split("::") if x and x != "*")


edges = {}
for mod, path in files.items():
    text = strip(open(path, encoding="utf-8").read())
    facade = os.path.basename(path) in ("mod.rs", "lib.rs")
    children = set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text, re.M))
    deps = {}
    for m in re.finditer(r"(?m)^\s*(pub(\([^)]*\))?\s+)?use\s+([^;]+);", text):
        if m.group(1) and facade:
            continue
        for parts in use_paths(m.group(3)):
            if not parts:
                continue
            if parts[0] in ("crate", "super", "self") or parts[0] in children:
                t = resolve(mod, parts)
                if t is not None and t != mod:
                    deps.setdefault(t, "use " + "::".join(parts))
    body = re.sub(r"(?m)^\s*(pub(\([^)]*\))?\s+)?use\s+[^;]+;", "", text)
    for m in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+|\w+(?:::\w+)+)", body):
        parts = tuple(m.group(1).split("::"))
        if parts[0] in ("crate", "super", "self") or parts[0] in children:
            t = resolve(mod, parts)
            if t is not None and t != mod:
                deps.setdefault(t, m.group(1))
    edges[mod] = deps

def name_of(m):
    return "crate" + "".join("::" + p for p in m)


# Tarjan's strongly connected components.
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)


def visit(v):
    index[v] = low[v] = n[0]
    n[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges.get(v, {}):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(comp)


for v in sorted(edges):
    if v not in index:
        visit(v)
file_sccs = sccs
file_edges = edges

# The same between siblings at every level: a directory module's children (files and subdirectories, each with
# everything below it) may use each other only one way, so that data flows one way between the crate's areas
# (`client` -> `consumer` but not back) and between the parts of one area (`server::views` -> `server::moves`).
siblings = {}
for a, deps in file_edges.items():
    for b, how in deps.items():
        k = 0
        while k < min(len(a), len(b)) and a[k] == b[k]:
            k += 1
        if k < len(a) and k < len(b):
            siblings.setdefault(a[:k], {}).setdefault(a[: k + 1], {}).setdefault(
                b[: k + 1], f"{name_of(a)} -> {name_of(b)}: {how}"
            )
area_sccs, area_edges = [], {}
for parent in sorted(siblings):
    edges = siblings[parent]
    area_edges.update(edges)
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
    for v in sorted(edges):
        if v not in index:
            visit(v)
    area_sccs += sccs


if not file_sccs and not area_sccs:
    print(f"no module cycles ({len(files)} modules; none between siblings either)")
    sys.exit(0)
for kind, found in (("cycle", file_sccs), ("sibling cycle", area_sccs)):
    for comp in found:
        members = set(comp)
        print(f"{kind}: " + ", ".join(sorted(name_of(m) for m in comp)))
        for a in sorted(comp):
            for b, how in sorted((file_edges if kind == "cycle" else area_edges)[a].items()):
                if b in members:
                    print(f"  {name_of(a)} -> {name_of(b)}   ({how})")
print(f"{len(file_sccs)} cycle(s) among {len(files)} modules, {len(area_sccs)} between siblings")
sys.exit(1)
