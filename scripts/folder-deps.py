#!/usr/bin/env python3
"""Lists which folders of a Swift target use names declared in which other folders; fails on a cycle
or on a use that goes up the layer order.

The host is one Swift module, so the compiler allows any file to use any other; this script holds the
folders to the layering the README's Layout section describes. A folder "imports" another when one of
its files names a type, protocol, top-level function or constant declared there (comments and string
literals are ignored; a name the folder declares itself, even nested, stays its own). Files directly
in the target's root (the composition root, e.g. Daemon.swift) are left out: they wire everything
together by design.

The layer order of Sources/Host, bottom to top, is LAYERS below: a folder may use the folders listed
before it, never one listed after it. Folders not listed are only checked for cycles.

    scripts/folder-deps.py                  # Sources/Host: edges, then "no cycles" or the problems (exit 1)
    scripts/folder-deps.py --depth 2        # the same, with Plugins/Loading, Plugins/ABI, ... as folders
    scripts/folder-deps.py --why MQTTContract Plugins   # which files and names tie one folder to another
    scripts/folder-deps.py --root Tests/LabKit          # another target (cycles only)
    scripts/folder-deps.py --depth 2 --quiet            # the verdict only (make test runs this)
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
ANY_TYPE = re.compile(r"\b(?:struct|class|enum|protocol|actor|typealias)\s+([A-Za-z_]\w*)")

# Sources/Host, bottom to top. Within Plugins (seen with --depth 2): the typed commands know nothing
# of the rest; the services (timers, HTTP, UDP, WebSocket, routes, media, publish) are plain Swift;
# the ABI layer turns the C tables into service calls; the wire frames the plugin host process's
# socket; a generation is one instance of a plugin (inline, or isolated in a process of its own);
# loading keeps, reloads and supervises generations.
LAYERS = {
    "Sources/Host": [
        "Support", "ServiceManager", "Metrics", "Config", "Storage", "Broker", "Session", "Speakers", "Media",
        ["Plugins", "Plugins/Commands", "Plugins/Wire", "Plugins/Services", "Plugins/ABI", "Plugins/Generations",
         "Plugins/Isolation", "Plugins/Loading"],
        "Announce", "MQTTContract", "HomeAssistant", "Admin", "Soak", "Diagnostics",
    ],
}


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


def folder_of(root, path, depth):
    parts = os.path.relpath(path, root).split(os.sep)[:-1]
    return "/".join(parts[:depth]) if parts else None


def scan(root, depth):
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.endswith(".swift"):
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    files[path] = strip_comments_and_strings(f.read())
    declared = {}  # name -> folder
    own = {}  # folder -> every type it declares, nested ones too (Configuration.EmbeddedBroker)
    for path, text in files.items():
        folder = folder_of(root, path, depth)
        if folder is None:
            continue
        for name in top_level_declarations(text):
            declared.setdefault(name, folder)
        own.setdefault(folder, set()).update(ANY_TYPE.findall(text))
    edges = {}  # (from, to) -> {file: {names}}
    for path, text in files.items():
        folder = folder_of(root, path, depth)
        if folder is None:
            continue
        for ident in set(IDENT.findall(text)) - own[folder]:
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


def ranks(root):
    """folder -> (layer, place within the layer); a layer given as a list names its subfolders."""
    out = {}
    for i, layer in enumerate(LAYERS.get(os.path.normpath(root), [])):
        names = layer if isinstance(layer, list) else [layer]
        for j, name in enumerate(names):
            out[name] = (i, j)
    return out


def rank_of(folder, table):
    if folder in table:
        return table[folder]
    top = folder.split("/")[0]
    return (table[top][0], 0) if top in table else None


def upward(edges, table):
    """Edges from a folder to one above it (subfolders of one layer are ordered among themselves)."""
    out = []
    for a, b in sorted(edges):
        ra, rb = rank_of(a, table), rank_of(b, table)
        if ra is None or rb is None:
            continue
        if rb[0] > ra[0] or (rb[0] == ra[0] and ra[1] > 0 and rb[1] > ra[1]):
            out.append((a, b))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="Sources/Host")
    parser.add_argument("--depth", type=int, default=1, help="how many folder levels name a folder (default 1)")
    parser.add_argument("--why", nargs=2, metavar=("FROM", "TO"))
    parser.add_argument("--quiet", action="store_true", help="print the verdict and problems only, not every edge")
    args = parser.parse_args()
    edges = scan(args.root, max(args.depth, 1))
    if args.why:
        for path, names in sorted(edges.get(tuple(args.why), {}).items()):
            print(f"{path}: {', '.join(sorted(names))}")
        return 0
    for (a, b) in sorted(edges) if not args.quiet else []:
        print(f"{a} -> {b}")
    found = cycles(edges)
    up = upward(edges, ranks(args.root))
    if not found and not up:
        print(f"no cycles between the folders of {args.root}, and none uses a folder above it")
        return 0
    for comp in found:
        print(f"CYCLE: {' <-> '.join(comp)}")
    for a, b in up:
        print(f"UPWARD: {a} -> {b} (the order is LAYERS in scripts/folder-deps.py)")
    print("scripts/folder-deps.py --why A B shows the files and names")
    return 1


if __name__ == "__main__":
    sys.exit(main())
