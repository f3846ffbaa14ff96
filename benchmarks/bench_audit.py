"""kzoo audit against ranking by the trained model's own loss, on the
bundled digits with a share of the labels flipped.

For each flip share and seed: the 1,797 digits are written as a data folder
(8x8 grey PNGs) with that share put in another digit's folder
(`kzoo.testing.images.make_noisy_digit_folder`); `kzoo audit` (5 folds of
`kzoo train` with its defaults: LeNet-5, 30 epochs) ranks the likely
errors; the baseline trains the same recipe once on every image and ranks
the images by their own loss (what a user without out-of-fold predictions
would do). Printed: precision and recall of the flips among the top k = the
number of flips, for the audit's list (its `label` and `disagrees` rows,
in order), for its confident-learning rows alone (`label`: cleanlab's
`filter_by="low_self_confidence"`) and for cleanlab's default filter
(`"prune_by_noise_rate"`) on the same predictions, for all images ranked by
out-of-fold self-confidence, and for the baseline.

    python benchmarks/bench_audit.py --shares 0.05,0.10 --seeds 0,1,2 \
        --json runs/audit_bench.json
"""

import argparse
import json
import os
import tempfile
import time

import numpy as np


def _at_k(ranking, flipped, k):
    top = np.asarray(ranking[:k], np.int64)
    hits = int(flipped[top].sum()) if len(top) else 0
    return hits / max(len(top), 1), hits / max(int(flipped.sum()), 1)


def one(share, seed, work, keep, recipe):
    from kzoo import audit as cl
    from kzoo.data import sources
    from kzoo.run import run
    from kzoo.run.audit import link_fold, predict_items
    from kzoo.testing.images import make_noisy_digit_folder

    data = os.path.join(work, "digits")
    paths, _, flipped = make_noisy_digit_folder(data, share, seed=seed)
    start = time.perf_counter()
    result = run("audit", data=data, out=os.path.join(work, "audit.csv"),
                 runs=os.path.join(work, "runs"), seed=seed, **recipe)
    audit_seconds = time.perf_counter() - start
    parts = sources.folder_source(data)
    order = {os.path.abspath(p): i for i, p in enumerate(paths)}
    mine = np.array([order[os.path.abspath(p)] for p in parts.train.paths])
    truth = flipped[mine]  # in the audit's order
    labels = parts.train.labels
    k = int(truth.sum())
    oof = result.report["probabilities"]
    issues = np.asarray(result.report["issues"], np.int64)
    ranked = np.asarray(result.report["ranked"], np.int64)
    self_conf = np.argsort(cl.self_confidence(oof, labels), kind="stable")
    everything = np.arange(len(labels))
    folder = link_fold(parts, everything, everything, os.path.join(work, "all"))
    start = time.perf_counter()
    base = run("train", data=folder, val_fraction=0.0, export=["keras"],
               out=os.path.join(work, "all-run"), seed=seed, **recipe)
    own = predict_items(base.model, parts.train)
    baseline_seconds = time.perf_counter() - start
    loss = -np.log(np.maximum(own[everything, labels], 1e-12))
    by_loss = np.argsort(-loss, kind="stable")
    row = {"share": share, "seed": seed, "recipe": recipe,
           "images": len(labels), "flips": k,
           "flagged": len(issues), "ranked": len(ranked),
           "flagged_precision": float(truth[issues].mean()) if len(issues) else 0.0,
           "flagged_recall": float(truth[issues].sum() / k),
           "oof_accuracy": result.report["out_of_fold_accuracy"],
           "audit_seconds": round(audit_seconds, 1),
           "baseline_seconds": round(baseline_seconds, 1)}
    pruned = cl.find_label_issues(oof, labels, filter_by="prune_by_noise_rate")
    row["pruned_flagged"] = len(pruned)
    tag = "-".join(f"{k}{v}" for k, v in sorted(recipe.items()))
    np.savez(os.path.join(keep, f"audit-{share}-{seed}{tag}.npz"), oof=oof, own=own,
             labels=labels, truth=truth)
    for name, ranking in (("audit", ranked), ("flagged", issues),
                          ("pruned", pruned), ("self_confidence", self_conf),
                          ("own_loss", by_loss)):
        row[f"{name}_precision_at_k"], row[f"{name}_recall_at_k"] = _at_k(
            ranking, truth, k)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", default="0.05,0.10")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--json")
    parser.add_argument("--keep", default=".",
                        help="folder for each run's probabilities (.npz)")
    parser.add_argument("--recipe", default="{}",
                        help="JSON of kzoo train options for the audit's folds "
                             "and the baseline alike, e.g. '{\"epochs\": 100, "
                             "\"dropout\": 0, \"label_smoothing\": 0}'")
    args = parser.parse_args()
    recipe = json.loads(args.recipe)
    rows = []
    for share in [float(s) for s in args.shares.split(",")]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            with tempfile.TemporaryDirectory() as work:
                rows.append(one(share, seed, work, args.keep, recipe))
            print(json.dumps(rows[-1]), flush=True)
    print("\nshare seed flips | audit list: rows P@k R@k | its confident-learning "
          "rows: count P R | prune_by_noise_rate: count P@k R@k | "
          "out-of-fold self-confidence R@k | own loss R@k")
    for r in rows:
        print(f"{r['share']:.2f} {r['seed']:4d} {r['flips']:5d} | "
              f"{r['ranked']:4d} {r['audit_precision_at_k']:.3f} "
              f"{r['audit_recall_at_k']:.3f} | {r['flagged']:4d} "
              f"{r['flagged_precision']:.3f} {r['flagged_recall']:.3f} | "
              f"{r['pruned_flagged']:4d} "
              f"{r['pruned_precision_at_k']:.3f} {r['pruned_recall_at_k']:.3f} | "
              f"{r['self_confidence_recall_at_k']:.3f} | "
              f"{r['own_loss_recall_at_k']:.3f}")
    for share in sorted({r["share"] for r in rows}):
        mine = [r for r in rows if r["share"] == share]
        for key in ("audit_precision_at_k", "audit_recall_at_k",
                    "pruned_recall_at_k", "own_loss_recall_at_k"):
            values = [r[key] for r in mine]
            print(f"share {share:.2f} {key}: {np.mean(values):.3f} +- "
                  f"{np.std(values):.3f} over {len(values)} seeds")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
