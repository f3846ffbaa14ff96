"""Time `kzoo select` on a pool of generated digit images, embedding
included, and its peak memory; `random` (the scan and the embedding
alone) is the peer each strategy's time is divided by.

    python benchmarks/bench_select.py                   # 1,245 and 100,000 images
    python benchmarks/bench_select.py --pools 1245 --embedding RUN

Each pool is a plain folder of 28x28 grey PNGs drawn from scikit-learn's
digits (`make_digit_folder.render`), written once into --work. Every
command runs alone, as its own process, under `/usr/bin/time` (wall
seconds, maximum resident set). Nothing downloads.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.datasets import load_digits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_digit_folder import renderer  # noqa: E402 (after the path)


def write_pool(root, n, seed=0):
    """`root/<k // 1000>/<k>.png` for k < n (skipped when already there)."""
    if os.path.isdir(root) and sum(len(f) for _, _, f in os.walk(root)) == n:
        return root
    digits = load_digits()
    render = renderer(np.random.default_rng(seed))
    for k, i in enumerate(np.random.default_rng(seed).integers(0, 1797, n)):
        folder = os.path.join(root, f"{k // 1000:03d}")
        os.makedirs(folder, exist_ok=True)
        render(digits.images[i]).save(os.path.join(folder, f"{k:06d}.png"))
    return root


def timed(argv):
    """`(wall seconds, max RSS in MB, stdout)` of one process."""
    done = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", *argv],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    wall, rss = re.findall(r"TIME ([\d.]+) (\d+)", done.stderr)[-1]
    return float(wall), int(rss) / 1024, done.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", default="1245,100000")
    parser.add_argument("--strategies", default="random,typiclust,probcover,coreset")
    parser.add_argument("--embedding", default="pixels")
    parser.add_argument("--budget", type=int, default=10)
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(),
                                                       "kzoo-bench-select"))
    args = parser.parse_args()
    print(f"kzoo select, --budget {args.budget}, --embedding {args.embedding}; "
          "whole process (scan, embedding, selection, CSV and sheet)")
    for n in (int(p) for p in args.pools.split(",")):
        pool = write_pool(os.path.join(args.work, f"pool{n}"), n)
        base = None
        for strategy in args.strategies.split(","):
            out = os.path.join(args.work, f"pick{n}-{strategy}.csv")
            wall, rss, _ = timed(["kzoo", "select", "--data", pool, "--budget",
                                  str(args.budget), "--strategy", strategy,
                                  "--embedding", args.embedding, "--out", out])
            base = wall if strategy == "random" else base
            ratio = f"{wall / base:.2f}x random" if base else ""
            print(f"{n:>8,} images  {strategy:<10} {wall:7.1f} s  "
                  f"max RSS {rss:7.0f} MB  {ratio}", flush=True)


if __name__ == "__main__":
    main()
