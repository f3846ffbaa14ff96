"""`kzoo label-budget`: its options and description (TensorFlow-free; the run
is `kzoo.run.label_budget.label_budget`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    DATA,
    RUNTIME,
    Opt,
    command,
)

COMMAND = command(
    "label-budget", "accuracy against labels per class, one line per technique",
    """Accuracy against labels per class, one line per technique.

  kzoo label-budget --budgets 1,5,10,all --seeds 0,1,2
  kzoo label-budget --data DIR --budgets 5,20 --teacher big.keras

At each budget (labelled images per class; 'all' = every training image)
and seed, with the same --model, the techniques run as their commands do,
each writing under --out/<budget>/<technique>/seed<k>/: supervised,
supervised_augment (--augment), pseudo_label, noisy_student (--rounds),
fixmatch (`kzoo fixmatch`, its defaults, --augment the weak view),
distillation (with --teacher), transfer (with --source, finetune); on
request (--techniques) flexmatch, freematch and softmatch (fixmatch
--variant NAME) and fixmatch_noisy_student (noisy-student
--teacher-method fixmatch).
Supervised runs train for about --steps updates (clamped to 15-400
epochs). With --selection each budget is images in all, chosen from the
training pool by each strategy (kzoo select's) on --embedding, labelled
from the hidden labels, and trained by each technique; the report adds
the classes each labelled set covers. Writes report.json and report.png
after every technique and budget and prints the table; the same command
into the same --out reuses the finished runs (--fresh runs them again).""",
    "kzoo.run.label_budget:label_budget",
    *DATA,
    Opt("budgets", ["1", "5", "10", "all"], t.budget_list,
      "labels per class, comma-separated; 'all' = fully labelled"),
    Opt("seeds", ["0", "1", "2"], t.seed_list),
    Opt("model", "lenet5"),
    Opt("input_size", type=t.input_size, help="default: the model's"),
    Opt("augment", "default", help="policy of supervised_augment and the teachers"),
    Opt("steps", 1200, t.steps, "approximate updates of each supervised run"),
    Opt("rounds", 2, t.rounds, "Noisy Student rounds"),
    Opt("techniques", type=t.name_list, help="subset to run (default: all that apply)"),
    Opt("teacher", help=".keras/SavedModel teacher for the distillation line"),
    Opt("source", help=".keras/SavedModel source model for the transfer line"),
    Opt("selection", type=t.name_list,
      help="choose the labelled images by these strategies instead of at "
           "random per class, e.g. 'random,typiclust,typiclust+margin' "
           "(FIRST+SECOND: half by FIRST, the rest by SECOND from the model "
           "trained on them); --budgets then count images in all"),
    Opt("embedding", help="what --selection compares images by: pixels "
                          "(default), imagenet[:NAME], or a kzoo run (e.g. "
                          "kzoo pretrain's)"),
    Opt("out", help="default: saved_models/label_budget-<data>"),
    Opt("smoke", False, kind="switch",
      help="wiring check: every run with --smoke, one round"),
    *RUNTIME,
)
