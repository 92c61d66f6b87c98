"""The language server against `lint`: how long the first diagnostics of a file take.

    .venv/bin/python benchmarks/lsp_bench.py [FILE ...] [--rounds N]

For each file (default: the examples), prints the median over rounds of

- ``lint``: one in-process `lint` of the file's text (the cli's ``lint_text``, warm caches
  cleared), the bar the editor must meet;
- ``open``: from sending ``didOpen`` to receiving its ``publishDiagnostics``, through a
  running ``aigw-policy lsp`` over stdio (pipes and JSON included);
- ``change``: from a ``didChange`` to its diagnostics (the debounce of 150 ms included).

Both sides are warm (modules imported, grammar built; a fresh `aigw-policy lint` process
pays that too, about a second). The CEL caches are cleared before each in-process lint and each file is opened under a
fresh URI with a text no earlier round had, so neither side reuses the other's work.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from lsp.client import LspClient

from aigw_policy import cel
from aigw_policy.analysis import LintOptions
from aigw_policy.cli.lint import lint_text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    files = [p.resolve() for p in args.files] or sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in (".aigw", ".yaml"))
    client = LspClient(cwd=ROOT)
    client.initialize()
    client.open((ROOT / "warm-up.aigw").as_uri(), files[0].read_text())  # imports, grammar: once
    client.diagnostics((ROOT / "warm-up.aigw").as_uri(), 1)
    print(f"{'file':32} {'lint ms':>9} {'open ms':>9} {'change ms':>10}")
    for n, path in enumerate(files):
        base = path.read_text()
        lints, opens, changes = [], [], []
        for r in range(args.rounds):
            text = base + f"\n# round {r}\n"
            cel.clear_cache()
            t0 = time.perf_counter()
            lint_text(path, text, LintOptions())
            lints.append(time.perf_counter() - t0)
            uri = (path.parent / f"bench-{n}-{r}{path.suffix}").as_uri()
            t0 = time.perf_counter()
            client.open(uri, text, "aigw" if path.suffix == ".aigw" else "yaml")
            client.diagnostics(uri, 1)
            opens.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            client.change(uri, 2, text + "# changed\n")
            client.diagnostics(uri, 2)
            changes.append(time.perf_counter() - t0)
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        ms = [1000 * statistics.median(x) for x in (lints, opens, changes)]
        print(f"{path.name:32} {ms[0]:9.1f} {ms[1]:9.1f} {ms[2]:10.1f}")
    client.close()


if __name__ == "__main__":
    main()
