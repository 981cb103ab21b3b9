#!/usr/bin/env python3
"""Lists which folders of a Swift target use names declared in which other folders, and fails on a cycle.

The host is one Swift module, so the compiler allows any file to use any other; this script holds the
folders to the layering the README's Layout section describes. A folder "imports" another when one of
its files names a type, protocol, top-level function or constant declared there (comments and string
literals are ignored). Files directly in the target's root (the composition root, e.g. Daemon.swift)
are left out: they wire everything together by design.

    scripts/folder-deps.py                  # Sources/Host: edges, then "no cycles" or the cycles (exit 1)
    scripts/folder-deps.py --why Bridge Plugins   # which files and names tie one folder to another
    scripts/folder-deps.py --root Tests/LabKit    # another target
"""
import argparse
import os
import re
import sys

DECL = re.compile(
    r"^(?:\s*@\w+(?:\([^)]*\))?\s+)*\s*(?:(?:public|package|internal|final|nonisolated|indirect|"
    r"open)\s+)*(?:struct|class|enum|protocol|actor|typealias|func|let|var)\s+([A-Za-z_]\w*)",
    re.M,
)
PRIVATE = re.compile(r"^\s*(?:@\w+\s+)*(?:private|fileprivate)\b")
IDENT = re.compile(r"[A-Za-z_]\w*")


def strip_comments_and_strings(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r'"""(?:.|\n)*?"""', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\\n])*"', '""', text)
    return re.sub(r"//[^\n]*", " ", text)


def top_level_declarations(text):
    """Names declared at brace depth 0 (a folder's vocabulary), skipping private ones."""
    names, depth = set(), 0
    for line in text.split("\n"):
        if depth == 0 and not PRIVATE.match(line):
            m = DECL.match(line)
            if m:
                names.add(m.group(1))
        depth += line.count("{") - line.count("}")
    return names


def folder_of(root, path):
    rel = os.path.relpath(path, root)
    parts = rel.split(os.sep)
    return parts[0] if len(parts) > 1 else None


def scan(root):
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.endswith(".swift"):
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    files[path] = strip_comments_and_strings(f.read())
    declared = {}  # name -> folder
    for path, text in files.items():
        folder = folder_of(root, path)
        if folder is None:
            continue
        for name in top_level_declarations(text):
            declared.setdefault(name, folder)
    edges = {}  # (from, to) -> {file: {names}}
    for path, text in files.items():
        folder = folder_of(root, path)
        if folder is None:
            continue
        for ident in set(IDENT.findall(text)):
            target = declared.get(ident)
            if target and target != folder:
                edges.setdefault((folder, target), {}).setdefault(path, set()).add(ident)
    return edges


def cycles(edges):
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="Sources/Host")
    parser.add_argument("--why", nargs=2, metavar=("FROM", "TO"))
    args = parser.parse_args()
    edges = scan(args.root)
    if args.why:
        for path, names in sorted(edges.get(tuple(args.why), {}).items()):
            print(f"{path}: {', '.join(sorted(names))}")
        return 0
    for (a, b) in sorted(edges):
        print(f"{a} -> {b}")
    found = cycles(edges)
    if not found:
        print(f"no cycles between the folders of {args.root}")
        return 0
    for comp in found:
        print(f"CYCLE: {' <-> '.join(comp)}  (scripts/folder-deps.py --why A B shows the names)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
