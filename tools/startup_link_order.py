#!/usr/bin/python3
"""The order in which ptinfer lists its shared libraries, chosen so that the dynamic loader
spends less of every start-up resolving symbols, and the check that the order binds every
symbol as the default order does.

Why: Debian's LibTorch pulls 290 shared libraries into the process (OpenCV, GDAL, Qt, FFmpeg...),
all linked with `-z now`, so the loader resolves ~142,000 symbol references before `main`. Each
lookup walks the global scope (the executable, then its libraries breadth-first) until a library
defines the symbol; a library deep in that list that binds thousands of references to itself
(OpenBLAS, Xerces, GDAL) pays that walk every time. Listing the libraries that resolve the most
references first in ptinfer's own DT_NEEDED entries shortens the walk. The order may move a
library ahead of another only where the two share no strongly-defined dynamic symbol, so every
reference binds to the same definition as before; where both define it weakly (C++ inline
functions, templates, typeinfo: vague linkage, one definition by the language's rules) the loader
may now pick the other copy.

Usage:
  tools/startup_link_order.py generate REFERENCE_BIN [--max-libs 30] > cmake/startup_link_order.txt
      REFERENCE_BIN: ptinfer linked in the default order (build/ptinfer_default_link_order).
  tools/startup_link_order.py check --ptinfer BIN --reference REFERENCE_BIN [--front SONAME...]
      Exits non-zero, naming the symbol or library, unless BIN's scope starts with the --front
      libraries, holds the same libraries as REFERENCE_BIN's, binds every (object, symbol) to
      the same library or to a copy both define weakly, and (when --front is given) walks a
      shorter scope per binding on average. Both binaries run `--version` under LD_DEBUG.
"""
import argparse
import collections
import glob
import os
import re
import subprocess
import sys
import tempfile

BINDING = re.compile(r"binding file (\S+) \[0\] to (\S+) \[0\]: \S+ symbol `([^']+)'")
# Symbols every shared object defines for the linker's bookkeeping; never looked up by code.
LINKER_MARKERS = {"__bss_start", "_edata", "_end", "_init", "_fini"}
WEAK_TYPES = {"W", "V", "w", "v", "u"}  # nm -D: weak and GNU-unique (vague linkage) definitions
EXECUTABLE = "<executable>"


def loader_trace(binary):
    """Runs `binary --version` under LD_DEBUG=scopes,bindings. Returns (stdout, scope, bindings):
    the global scope as the loader's names (the executable as EXECUTABLE), and a dict
    (referencing object, symbol) -> defining object for every binding in the main namespace."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, LD_DEBUG="scopes,bindings", LD_DEBUG_OUTPUT=os.path.join(tmp, "ld"))
        run = subprocess.run([binary, "--version"], env=env, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"{binary} --version failed (exit {run.returncode}): {run.stderr.strip()}")
        traces = glob.glob(os.path.join(tmp, "ld.*"))
        if len(traces) != 1:
            sys.exit(f"{binary}: expected one LD_DEBUG trace, found {len(traces)}")
        text = open(traces[0], errors="replace").read()
    real_binary = os.path.realpath(binary)
    name = lambda path: EXECUTABLE if os.path.realpath(path) == real_binary else path
    scope_lines = [l for l in text.splitlines() if "scope 0:" in l]
    if not scope_lines:
        sys.exit(f"{binary}: LD_DEBUG printed no scope (is this glibc's loader?)")
    scope = [name(p) for p in scope_lines[0].split("scope 0:", 1)[1].split()]
    bindings = {(name(m.group(1)), m.group(3)): name(m.group(2)) for m in BINDING.finditer(text)}
    if not bindings:
        sys.exit(f"{binary}: LD_DEBUG printed no bindings")
    return run.stdout, scope, bindings


def defined_symbols(library, weak):
    """The dynamic symbols `library` defines, weakly (weak=True) or strongly, without versions."""
    out = subprocess.run(["nm", "-D", "--defined-only", library], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"nm -D {library} failed: {out.stderr.strip()}")
    symbols = set()
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and (fields[-2] in WEAK_TYPES) == weak:
            symbols.add(fields[-1].split("@")[0])
    return symbols - LINKER_MARKERS


def mean_scope_depth(scope, bindings):
    """Average position in `scope` of the library each binding resolved to: how many objects a
    lookup passes, on average, before it finds its symbol. Bindings to objects outside the scope
    (the vDSO) are left out."""
    position = {obj: i for i, obj in enumerate(scope)}
    depths = [position[d] for d in bindings.values() if d in position]
    return sum(depths) / len(depths)


def generate(args):
    _, scope, bindings = loader_trace(args.reference)
    libraries = scope[1:]
    position = {lib: i for i, lib in enumerate(libraries)}
    strong = {lib: defined_symbols(lib, weak=False) for lib in libraries}
    resolved_here = collections.Counter(bindings.values())

    def closure(lib, front):
        """lib plus every library before it (not yet in front) sharing a strong symbol with it
        or with one already added: moving lib ahead of those would change what binds."""
        group, todo = {lib}, [lib]
        while todo:
            moving = todo.pop()
            for earlier in libraries[:position[moving]]:
                if earlier in front or earlier in group:
                    continue
                if strong[earlier] & strong[moving]:
                    group.add(earlier)
                    todo.append(earlier)
        return group

    front = set()
    for lib, _ in resolved_here.most_common():
        if lib in position and lib not in front and "ld-linux" not in lib:
            group = closure(lib, front)
            if len(front | group) <= args.max_libs:
                front |= group
    new_scope = ([scope[0]] + [lib for lib in libraries if lib in front]
                 + [lib for lib in libraries if lib not in front])
    print("# Libraries ptinfer lists first (cmake/startup_link_order.cmake), in this order.")
    print("# Made by tools/startup_link_order.py generate build/ptinfer_default_link_order;")
    print("# the test startup_link_order checks it. Mean scope depth per binding:")
    print(f"# {mean_scope_depth(scope, bindings):.1f} in the default order, "
          f"{mean_scope_depth(new_scope, bindings):.1f} with these {len(front)} first "
          f"({len(bindings)} bindings).")
    for lib in libraries:
        if lib in front:
            print(os.path.basename(lib))


def check(args):
    out, scope, bindings = loader_trace(args.ptinfer)
    ref_out, ref_scope, ref_bindings = loader_trace(args.reference)
    failures = []
    if out != ref_out:
        failures.append(f"--version printed {out!r}, the reference {ref_out!r}")
    head = [os.path.basename(p) for p in scope[1:1 + len(args.front)]]
    if head != args.front:
        failures.append(f"the scope starts with {head}, expected {args.front}")
    if set(scope[1:]) != set(ref_scope[1:]):
        failures.append(f"libraries differ: only in ptinfer {sorted(set(scope) - set(ref_scope))}, "
                        f"only in the reference {sorted(set(ref_scope) - set(scope))}")
    if set(bindings) != set(ref_bindings):
        only_one = sorted(set(bindings) ^ set(ref_bindings))
        failures.append(f"{len(only_one)} (object, symbol) pairs are bound in one binary only, "
                        f"e.g. {only_one[:3]}")
    weak = {}
    moved = 0
    for key in sorted(set(bindings) & set(ref_bindings)):
        now, before = bindings[key], ref_bindings[key]
        if now == before:
            continue
        for lib in (now, before):
            if lib not in weak:
                weak[lib] = set() if lib == EXECUTABLE else defined_symbols(lib, weak=True)
        if key[1] in weak[now] and key[1] in weak[before]:
            moved += 1
        else:
            failures.append(f"{key[0]}: symbol {key[1]} binds to {now}, by default to {before}")
    depth, ref_depth = mean_scope_depth(scope, bindings), mean_scope_depth(ref_scope, ref_bindings)
    print(f"{len(bindings)} bindings; {moved} bind to another weak copy; mean scope depth per "
          f"binding {depth:.1f}, default order {ref_depth:.1f}")
    if args.front and not depth < 0.7 * ref_depth:
        failures.append(f"the order does not shorten the scope walk: depth {depth:.1f} against "
                        f"{ref_depth:.1f} (regenerate cmake/startup_link_order.txt)")
    for failure in failures[:40]:
        print("FAIL:", failure, file=sys.stderr)
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="print the libraries to list first, one soname a line")
    gen.add_argument("reference", help="ptinfer linked in the default order")
    gen.add_argument("--max-libs", type=int, default=30)
    chk = sub.add_parser("check", help="compare the reordered binary with the reference")
    chk.add_argument("--ptinfer", required=True)
    chk.add_argument("--reference", required=True)
    chk.add_argument("--front", nargs="*", default=[], help="sonames ptinfer lists first, in order")
    args = parser.parse_args()
    if args.command == "generate":
        generate(args)
        return 0
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
