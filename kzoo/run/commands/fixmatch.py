"""`kzoo fixmatch`: its options and description (TensorFlow-free; the run
is `kzoo.run.fixmatch.fixmatch`)."""

import textwrap

from kzoo.run import types as t
from kzoo.run.options import (
    SEMI,
    TRAIN_OPTIONS,
    Length,
    Opt,
    command,
    with_defaults,
)

STRONG_POLICY = "crop,randaugment(n=2,m=10),cutout"
FIXMATCH_STEPS = 12000  # see kzoo/run/fixmatch.py for how it was chosen
# --variant: which pseudo-labels train, and with what weight. The names are
# kzoo.semi_supervised.CONFIDENCE's (tests/semi_supervised checks); a new
# confidence strategy is one row here and one there.
VARIANTS = {
    "fixmatch": "confidence >= --threshold (Sohn et al. 2020)",
    "flexmatch": "class-wise curriculum thresholds up to --threshold, with "
                 "warm-up (Zhang et al. 2021)",
    "freematch": "self-adaptive thresholds and a fairness term (Wang et al. 2023)",
    "softmatch": "every image, weighted by a truncated Gaussian of its "
                 "confidence after a uniform distribution alignment (Chen et "
                 "al. 2023)",
}
FIXMATCH_VARIANTS = tuple(VARIANTS)

COMMAND = command(
    "fixmatch", "FixMatch / FlexMatch / FreeMatch / SoftMatch consistency "
    "training (the main job: --flexmatch)",
    """FixMatch: pseudo-labels of weak views train strong views (Sohn et al. 2020).

  kzoo fixmatch                            # digits, 5 labels per class
  kzoo fixmatch --flexmatch                # the main job
  kzoo fixmatch --variant freematch        # or softmatch
  kzoo fixmatch --flexmatch --distribution-alignment
  kzoo fixmatch --data DIR --labels-per-class 10 --no-cache-pool

Every update trains on a batch of labelled images (--augment, the weak
policy) and --ratio times as many unlabelled ones (FixMatch's mu). Each
unlabelled image is decoded once and gives two views: weak (--augment) and
strong (--strong: RandAugment + Cutout). The prediction on the weak view,
without gradient, is the pseudo-label of the strong view when its
confidence reaches --threshold; the unlabelled loss has weight
--unlabeled-weight. --variant chooses which pseudo-labels train and with
what weight (below; --flexmatch = --variant flexmatch);
--distribution-alignment: the pseudo-label distribution is aligned to the
labelled one (ReMixMatch). At every check the run looks for a class that
gets no confident pseudo-labels or whose labelled images' nearest pool
images are predicted as another class, and warns (the progress line, the
summary, metrics.json "collapse"). An exponential moving average of
the weights (--ema-decay) is what is validated, tested and exported. A
run is --steps updates whatever the pool's size (--epochs: passes over
the unlabelled pool instead). On the bundled digits the
labelled set is 5 per class (a demo budget); other data keeps every label
unless a budget flag says. Writes train's outputs to --out, plus
fixmatch.json and fixmatch_curve.png (validation accuracy, mask rate and
pseudo-label accuracy against the step).

Variants:
""" + "\n".join(textwrap.fill(f"{name:<10} {text}", 78, initial_indent="  ",
                               subsequent_indent=" " * 13)
               for name, text in VARIANTS.items()),
    "kzoo.run.fixmatch:fixmatch",
    *with_defaults(TRAIN_OPTIONS, augment="default", label_smoothing=0.0, dropout=0.0,
           lr=2e-3,
           epochs=Length("passes over the unlabelled pool (epochs) instead "
                         "of a --steps budget")),
    Opt("steps", type=t.steps, exclusive="length",
      help="training steps (updates) of the run, whatever the pool's size "
           f"(default: {FIXMATCH_STEPS:,} unless --epochs is given)"),
    *with_defaults(SEMI, ratio=7),
    Opt("strong", STRONG_POLICY, help="strong-view policy of the unlabelled images"),
    Opt("threshold", 0.95, t.unit_interval,
      "confidence tau a pseudo-label needs (flexmatch: its maximum; "
      "freematch and softmatch adapt their own)"),
    Opt("unlabeled_weight", 1.0, t.non_negative_float,
      "weight lambda_u of the unlabelled loss"),
    Opt("variant", "fixmatch", choices=FIXMATCH_VARIANTS,
      help="which pseudo-labels train, with what weight (see Variants below)"),
    Opt("flexmatch", False, kind="switch", help="= --variant flexmatch"),
    Opt("distribution_alignment", False, kind="switch",
      help="align pseudo-labels to the labelled class distribution (ReMixMatch)"),
    Opt("ema_decay", 0.999, t.rate,
      "decay of the weight average that is validated and exported (0: none)"),
)
