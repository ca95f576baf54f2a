"""``make bench``: every benchmark in this folder, one after the other, then one table of the
ratios they printed (``RATIO <name> <ours / peer>``: below 1, ours is faster), written to
``build/bench.md`` with the machine and the date. Benchmarks report; nothing here asserts a
timing.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from lib import config
from lib.atomic import write_atomic

HERE = Path(__file__).resolve().parent
RATIO = re.compile(r"^RATIO (\S+) (\S+)$")


def main() -> int:
    rows: list[tuple[str, str, str]] = []
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        # UTF-8 both ways: a benchmark prints "×", which Windows' default code page for pipes may lack.
        proc = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            encoding="utf-8",
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )
        print(proc.stdout, end="")
        if proc.returncode != 0:
            print(proc.stderr, end="", file=sys.stderr)
            failed.append(script.name)
        for line in proc.stdout.splitlines():
            if m := RATIO.match(line.strip()):
                rows.append((script.stem, m.group(1), m.group(2)))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        f"`make bench` on {stamp}, {platform.system()} {platform.machine()}, {os.cpu_count()} cores. "
        "Each ratio is ours / the peer, measured side by side in the same run: below 1, ours is faster.",
        "",
        "| benchmark | comparison | ratio |",
        "| --- | --- | --- |",
        *[f"| {b} | {name} | {value} |" for b, name, value in rows],
    ]
    out = write_atomic(config.build_dir() / "bench.md", "\n".join(lines) + "\n")
    print("\n" + "\n".join(lines[4:]))
    print(f"\nwritten to {out}")
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
