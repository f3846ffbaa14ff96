"""Every option of every `kzoo` command, defined once (see `config`).

Options come in groups that techniques share (data, training, runtime,
semi-supervised); a command is its groups plus its own options, with the
defaults its technique needs. `COMMANDS` is the table the command line, the
config files and `kzoo.run.configure` are built from.

TensorFlow-free on purpose: `kzoo --help` imports this module only.
"""

from kzoo.run import types as t
from kzoo.run.config import Command, Option

# The same values as kzoo.augment.DEFAULT_POLICY, kzoo.runtime.STRATEGIES
# and kzoo.training.plan.CHECK_EVERY (tests/run/test_options.py checks), kept here
# so that help needs no TensorFlow import.
DEFAULT_POLICY = "crop"
STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
NOISE_POLICY = "crop,randaugment(n=2,m=9)"
STRONG_POLICY = "crop,randaugment(n=2,m=10),cutout"
CHECK_EVERY = 250  # = kzoo.training.plan.CHECK_EVERY
FIXMATCH_STEPS = 12000  # see kzoo/run/fixmatch.py for how it was chosen
SEARCH_TEMPLATE = "crop,randaugment(n={n},m={m})"
SIMCLR_POLICY = "crop,randaugment(n=2,m=10)"
PRETRAIN_STEPS = 1500  # see kzoo/run/pretrain.py for how it was chosen
# = kzoo.select.STRATEGIES (tests/run/test_options.py checks); TensorFlow-free here.
SELECT_STRATEGIES = ("typiclust", "probcover", "random", "margin", "entropy",
                     "badge", "coreset")
LWF_METHODS = ("feature", "finetune", "lwf")
# = kzoo.semi_supervised.CONFIDENCE's names (tests/run/test_options.py checks).
FIXMATCH_VARIANTS = ("fixmatch", "flexmatch", "freematch", "softmatch")
TRANSFER_MODES = ("head", "finetune", "scratch")

Opt = Option

DATA = (
    Opt("data", "digits",
      help="'digits' (bundled), 'tfds:NAME', or a folder DIR laid out as "
           "DIR/train/<class>/*.png|jpg|... with optional DIR/val/<class>/, "
           "DIR/test/<class>/ and DIR/unlabeled/** (or unlabelled/); or "
           "DIR/<class>/* alone (test and validation images are then held "
           "out of each class)"),
    Opt("data_dir", help="TFDS data directory"),
    Opt("download", False, kind="switch",
      help="let TFDS download the dataset (off: never fetches)"),
    Opt("classes", type=t.name_list,
      help="keep only these classes, e.g. '5,6,7,8,9' (default: all)"),
    Opt("seed", 0, t.seed),
)

MODEL = (
    Opt("model", "lenet5", help="registered model name (kzoo info --list)"),
    Opt("width", 1.0, t.width, "filter/unit multiplier"),
    Opt("input_size", type=t.input_size,
      help="square image size (default: the model's)"),
    Opt("channels", type=int, choices=(1, 3), help="default: the data's own"),
    Opt("weights",
      help="initial weights: 'imagenet' (VGG-16/19, mobilenet_v3_small/large, "
           "efficientnet_v2_b0, resnet50_v2, convnext_tiny: the "
           "keras.applications files, downloaded once into KERAS_HOME; the "
           "backbone, with its input convention), a .h5/.weights.h5 file of "
           "keras.applications, or a kzoo run folder/.keras file of the same "
           "model (default: random; noisy-student: the round-0 teacher's)"),
)

BUDGET = (
    Opt("labels_per_class", type=t.images_per_class, exclusive="budget",
      help="labelled images kept per class (the rest join the unlabelled pool)"),
    Opt("label_fraction", type=t.fraction, exclusive="budget",
      help="fraction of each class kept labelled"),
    Opt("labeled_indices", type=t.index_list, exclusive="budget",
      help="keep exactly these images of the training split labelled: "
           "indices into it once the test and validation images are held "
           "out (how kzoo label-budget --selection passes a selection)"),
    Opt("val_fraction", 0.1, t.rate, "share of the training split held out"),
)

TRAINING = (
    Opt("epochs", 30, t.epochs),
    Opt("batch_size", 16, t.batch_size, "global batch (all replicas)"),
    Opt("lr", 1e-3, t.positive_float, "Adam learning rate"),
    Opt("schedule", "constant", choices=("constant", "cosine"),
      help="learning-rate schedule over the whole run"),
    Opt("label_smoothing", 0.1, t.rate),
    Opt("dropout", 0.5, t.rate,
      "dropout after hidden FC layers, for models that have them"),
    Opt("augment", "none",
      help=f"augmentation policy: 'default' (= '{DEFAULT_POLICY}'), "
           "'flip,crop,randaugment(n=2,m=9),cutmix(alpha=1.0)' or 'none'"),
    Opt("jit_compile", False, kind="bool",
      help="XLA-compile the train step (off: on 2-core CPUs TensorFlow's "
           "own kernels trained LeNet-5 1.0-2.0x faster than XLA's, see "
           "benchmarks/bench_lenet_throughput.py)"),
    Opt("steps_per_execution", 32, t.steps,
      "train steps per graph call (the divisor of a check's steps nearest "
      "this, at most twice this)"),
    Opt("check_every", CHECK_EVERY, t.steps,
      "validate, log and back up every this many training steps (rounded to "
      "whole graph calls; at least one pass over the data, at most the "
      "whole run)"),
)

OUTPUT = (
    Opt("out", help="output folder (default: saved_models/<model>-<data>)"),
    Opt("smoke", False, kind="switch",
      help="wiring check: 1 epoch of 2 steps, small test; writes to "
           "--out/smoke, never a version TF Serving would load"),
    Opt("export", ["savedmodel", "keras"], t.export_formats,
      "what the run writes at the end: savedmodel (next version folder, "
      "TF Serving), keras (model.keras), litert (model.tflite, needs the "
      "'litert' extra), onnx (model.onnx, needs the 'onnx' extra); "
      "each with its input contract in model_card.json"),
)

RUNTIME = (
    Opt("strategy", "default", choices=STRATEGIES,
      help="tf.distribute strategy: one device; 'mirrored' (all GPUs of this "
           "machine); 'multiworker' (the cluster in TF_CONFIG; the same command "
           "on every worker); 'tpu'. --batch-size stays the global batch"),
    Opt("deterministic", False, kind="switch",
      help="seed everything and enable TensorFlow op determinism "
           "(bit-identical reruns on CPU; slower on GPU)"),
    Opt("mixed_precision", False, kind="switch",
      help="mixed_float16 on GPU, mixed_bfloat16 on CPU; logits and exported "
           "outputs stay float32"),
    Opt("fresh", False, kind="switch",
      help="discard kzoo's backups in --out (of an interrupted run, perhaps "
           "with other flags) and train from the start"),
)

SEMI = (
    Opt("ratio", 3, t.ratio, "unlabelled images per labelled image in a batch"),
    Opt("cache_pool", None, kind="bool",
      help="keep the decoded unlabelled pool in memory (default: when it "
           "takes under 2 GiB; else streamed every epoch)"),
)

TRAIN_OPTIONS = DATA + MODEL + BUDGET + TRAINING + OUTPUT + RUNTIME


def _with(options, **defaults):
    """`options` with some defaults changed (`name=value`) or refused
    (`name=Refuse(reason)`)."""
    out = []
    for option in options:
        change = defaults.get(option.name, option.default)
        if isinstance(change, Refuse):
            option = option.refused(change.reason)
        elif isinstance(change, Length):
            option = option.replace(default=None, exclusive="length",
                                    help=change.help)
        else:
            option = option.replace(default=change)
        out.append(option)
    return tuple(out)


class Refuse:
    def __init__(self, reason):
        self.reason = reason


class Length:
    """--epochs as the alternative to a command's --steps budget: no
    default, excluding --steps."""

    def __init__(self, help):
        self.help = help


def _command(name, summary, description, target, *options):
    return Command(name, summary, description, target, tuple(options))


TRAIN = _command(
    "train", "train a registered model and export it for TF Serving",
    """Train a registered model with model.fit and export it for TF Serving.

  kzoo train                                   # LeNet-5 on bundled digits
  kzoo train --model vgg11_bn --width 0.25 --data DIR --epochs 30

Writes to --out: config.json, metrics.json, confusion_matrix.png,
model.keras, training_log.csv, logs/ (TensorBoard) and the SavedModel in the
next version folder (1/, 2/...). Runs under --strategy (--batch-size is the
global batch), backs up each epoch to --out/backup and resumes from it when
the same command runs again, stops with the last good backup kept when the
loss turns NaN, and checks --out before training.""",
    "kzoo.run.train:train", *TRAIN_OPTIONS)

PSEUDO_LABEL = _command(
    "pseudo-label", "labelled + unlabelled images with online pseudo-labels",
    """Train on labelled and unlabelled images with online pseudo-labels (Lee 2013).

  kzoo pseudo-label                           # digits, 5 labels per class
  kzoo pseudo-label --data DIR --labels-per-class 10 --threshold 0.95

The 5 labels per class are a demo budget of the bundled digits; any other
data keeps every label unless --labels-per-class/--label-fraction says.
Every update trains on a batch of labelled images and --ratio times as many
unlabelled ones, whose targets are the network's own current predictions
(--soft: probabilities; else argmax, only those >= --threshold). The
unlabelled loss weight ramps from 0 to --unlabeled-weight between epochs
--t1 and --t2 (the paper's alpha(t)). An epoch is one pass over the
unlabelled pool. Writes train's outputs to --out.""",
    "kzoo.run.pseudo_label:pseudo_label",
    *_with(TRAIN_OPTIONS, augment="default", epochs=60), *SEMI,
    Opt("threshold", 0.0, t.unit_interval,
      "confidence an online pseudo-label needs (Lee: 0)"),
    Opt("soft", False, kind="switch",
      help="probabilities as targets instead of one-hot argmax"),
    Opt("unlabeled_weight", 3.0, t.non_negative_float,
      "final unlabelled loss weight alpha_f (Lee: 3)"),
    Opt("t1", type=t.epoch,
      help="epoch where alpha starts to rise (default: 10% of --epochs)"),
    Opt("t2", type=t.epoch,
      help="epoch where alpha reaches alpha_f (default: 60% of --epochs)"),
)

NOISY_STUDENT = _command(
    "noisy-student", "Noisy Student self-training, R rounds",
    """Noisy Student self-training: a few labels, many unlabelled images, R rounds.

  kzoo noisy-student                      # digits, 5 labels per class, 3 rounds
  kzoo noisy-student --data DIR --labels-per-class 10 \\
      --models lenet5,lenet5,vgg11_bn --input-size 32 --rounds 2

The loop of Xie et al. (2020): 1. train a teacher on the labelled images
(round 0, with --augment; --teacher-method fixmatch: with FixMatch on the
labelled and unlabelled images, as `kzoo fixmatch` does); 2. pseudo-label the unlabelled pool with the
un-noised teacher (hard or --soft targets, --threshold, --balance); 3. train
a new student from scratch on labelled + pseudo-labelled images with noise:
--noise on its inputs and dropout (--noise-dropout) in the model; 4. the
student becomes the teacher; repeat --rounds times. --models names the
model of each round (round 0 first; the last repeats). --ablate-noise also
runs the rounds without noise. On the bundled digits the labelled set is 5
per class (a demo budget); other data keeps every label unless a budget
flag says. Writes under --out: noisy_student.json, rounds.png,
round<k>/model.keras, and the final student's metrics.json, model.keras and
SavedModel. --epochs is the round-0 teacher's. The validation split only
reports: nothing is selected or stopped on it.""",
    "kzoo.run.noisy_student:noisy_student",
    *_with(TRAIN_OPTIONS, augment="default", epochs=300), *SEMI,
    Opt("rounds", 3, t.rounds),
    Opt("teacher_method", "supervised", choices=("supervised", "fixmatch"),
      help="round 0: supervised on the labels (--epochs), or FixMatch on "
           "labels + pool with `kzoo fixmatch`'s defaults (its own epochs, "
           "ratio, threshold; --augment its weak view); its weight average "
           "teaches round 1"),
    Opt("models", type=t.model_specs,
      help="model of round 0, 1, ... (the last repeats), each NAME or "
           "NAME:WIDTH, e.g. 'lenet5,vgg11_bn:0.25' (default: --model at "
           "--width every round)"),
    Opt("student_epochs", 100, t.epochs,
      "epochs of each student (one epoch = one pass over the pseudo-labelled "
      "images at --ratio x --batch-size)"),
    Opt("threshold", 0.0, t.unit_interval, "teacher confidence a pseudo-label needs"),
    Opt("soft", False, kind="switch",
      help="the teacher's probabilities as targets instead of one-hot argmax"),
    Opt("balance", True, kind="bool",
      help="equalise pseudo-labels per class (trim the most frequent to their "
           "most confident, repeat the rarest)"),
    Opt("noise", NOISE_POLICY, help="students' input noise policy"),
    Opt("noise_dropout", 0.5, t.rate, "students' dropout (model noise)"),
    Opt("ablate_noise", False, kind="bool",
      help="also run the rounds with no noise (no --noise, no dropout) from "
           "the same teacher and report both"),
)

FIXMATCH = _command(
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
what weight: fixmatch (confidence >= --threshold), flexmatch (class-wise
curriculum thresholds; --flexmatch says the same), freematch
(self-adaptive thresholds and a fairness term), softmatch (every image,
weighted by a truncated Gaussian of its confidence, after a uniform
distribution alignment); --distribution-alignment: the pseudo-label distribution is
aligned to the labelled one (ReMixMatch). An exponential moving average of
the weights (--ema-decay) is what is validated, tested and exported. A
run is --steps updates whatever the pool's size (--epochs: passes over
the unlabelled pool instead). On the bundled digits the
labelled set is 5 per class (a demo budget); other data keeps every label
unless a budget flag says. Writes train's outputs to --out, plus
fixmatch.json and fixmatch_curve.png (validation accuracy, mask rate and
pseudo-label accuracy against the step).""",
    "kzoo.run.fixmatch:fixmatch",
    *_with(TRAIN_OPTIONS, augment="default", label_smoothing=0.0, dropout=0.0,
           lr=2e-3,
           epochs=Length("passes over the unlabelled pool (epochs) instead "
                         "of a --steps budget")),
    Opt("steps", type=t.steps, exclusive="length",
      help="training steps (updates) of the run, whatever the pool's size "
           f"(default: {FIXMATCH_STEPS:,} unless --epochs is given)"),
    *_with(SEMI, ratio=7),
    Opt("strong", STRONG_POLICY, help="strong-view policy of the unlabelled images"),
    Opt("threshold", 0.95, t.unit_interval,
      "confidence tau a pseudo-label needs (flexmatch: its maximum; "
      "freematch and softmatch adapt their own)"),
    Opt("unlabeled_weight", 1.0, t.non_negative_float,
      "weight lambda_u of the unlabelled loss"),
    Opt("variant", "fixmatch", choices=FIXMATCH_VARIANTS,
      help="which pseudo-labels train: fixmatch (confidence >= --threshold), "
           "flexmatch (class-wise curriculum thresholds, with warm-up), "
           "freematch (self-adaptive thresholds + fairness term), softmatch "
           "(every image, weighted by a truncated Gaussian of its confidence)"),
    Opt("flexmatch", False, kind="switch", help="= --variant flexmatch"),
    Opt("distribution_alignment", False, kind="switch",
      help="align pseudo-labels to the labelled class distribution (ReMixMatch)"),
    Opt("ema_decay", 0.999, t.rate,
      "decay of the weight average that is validated and exported (0: none)"),
)

DISTILL = _command(
    "distill", "distil a teacher into a smaller student; report the gap closed",
    """Distil a teacher into a smaller student and report how much of the gap closes.

  kzoo distill                       # VGG-11-BN teacher -> LeNet-5 (digits)
  kzoo distill --teacher saved_models/big/1 --temperature 4
  kzoo distill --omit-class 3        # Hinton et al.'s omitted-class test

--teacher is a .keras file or kzoo SavedModel, or a registered model name
first trained on the same labelled data (--teacher-width, --teacher-epochs).
With --compare the student is also trained alone and the table gives the
test errors of teacher, student alone and distilled student, and the gap
closure. With --omit-class the class is left out of the distillation set;
its accuracy is reported before and after a bias correction. Outputs under
--out: teacher/, student_alone/, distilled/ (and distilled_bias_corrected/),
plus distill.json. Defaults differ from train where distillation needs it:
no label smoothing, no dropout in the students, a cosine schedule.""",
    "kzoo.run.distill:distill",
    *_with(TRAIN_OPTIONS, label_smoothing=0.0, schedule="cosine", dropout=0.0,
           model=Refuse("the student is --student, the teacher --teacher"),
           width=Refuse("use --student-width or --teacher-width"),
           weights=Refuse("a trained teacher is --teacher (a run folder, "
                          ".keras file or SavedModel)")),
    Opt("teacher", "vgg11_bn",
      help="registered model name (trained here) or .keras/SavedModel path"),
    Opt("teacher_width", 0.25, t.width),
    Opt("teacher_dropout", 0.5, t.rate,
      "dropout of a teacher trained here (--dropout is the students')"),
    Opt("teacher_epochs", type=t.epochs, help="default: --epochs"),
    Opt("student", "lenet5"),
    Opt("student_width", 1.0, t.width),
    Opt("temperature", 4.0, t.positive_float),
    Opt("student_loss_weight", 0.1, t.unit_interval,
      "weight a of the hard-label loss; 1 - a goes to distillation"),
    Opt("compare", True, kind="bool",
      help="also train the student alone and report the gap closure"),
    Opt("precompute", None, kind="bool",
      help="run the teacher once before training (default: on unless "
           "--augment is set)"),
    Opt("unlabeled", False, kind="switch",
      help="also distil on the unlabelled pool: soft targets only"),
    Opt("omit_class", help="class name left out of the distillation set"),
)

LWF = _command(
    "lwf", "Learning without Forgetting: add a task, keep the old one",
    """Learning without Forgetting: add a task to a trained model, keep the old one.

  kzoo train --classes 0,1,2,3,4 --out saved_models/digits-0to4
  kzoo lwf --old-model saved_models/digits-0to4/1 --old-classes 0,1,2,3,4 \\
      --classes 5,6,7,8,9

Methods (Li & Hoiem 2018), all from the same warm-up (backbone and old head
frozen, new head trained for --warmup-epochs): feature (stop there),
finetune (then backbone + new head), lwf (then everything, with
--old-loss-weight times the T^2-scaled distillation to the old head's
recorded outputs). Old-task accuracy is measured on the old classes' test
split. Each method exports one SavedModel serving both tasks under
--out/<method>; --out gets lwf.json with the table.""",
    "kzoo.run.lwf:lwf",
    *_with(TRAIN_OPTIONS,
           model=Refuse("the network is --old-model with a new head"),
           width=Refuse("the backbone is --old-model's"),
           dropout=Refuse("the new head has no dropout"),
           weights=Refuse("the weights are --old-model's")),
    Opt("old_model", required=True,
      help=".keras file or kzoo SavedModel of the old-task model"),
    Opt("old_classes", type=t.name_list, required=True,
      help="the old task's classes in the data spec, in the model's order"),
    Opt("method", "all", choices=LWF_METHODS + ("all",)),
    Opt("warmup_epochs", 30, t.epochs),
    Opt("temperature", 2.0, t.positive_float),
    Opt("old_loss_weight", 1.0, t.non_negative_float),
)

TRANSFER = _command(
    "transfer", "transfer a trained model to new classes (head, finetune, scratch)",
    """Transfer a trained model to new classes: new head only, fine-tune, or scratch.

  kzoo train --classes 0,1,2,3,4 --out saved_models/digits-0to4
  kzoo transfer --source saved_models/digits-0to4/1 --classes 5,6,7,8,9 \\
      --labels-per-class 5 --mode all

--mode head trains a new classifier on the frozen backbone (BatchNorm in
inference mode); finetune trains everything, the backbone at
--backbone-lr-multiplier times --lr; scratch trains the same architecture
from random weights; all runs the three side by side. The source's input
size and channels are used. Each mode writes its outputs under
--out/<mode>; --out gets transfer.json with the table.""",
    "kzoo.run.transfer:transfer",
    *_with(TRAIN_OPTIONS,
           model=Refuse("the model is --source with a new head"),
           width=Refuse("the backbone is --source's"),
           dropout=Refuse("use --head-dropout")),
    Opt("source", required=True,
      help="the trained model: a kzoo run folder, .keras file or SavedModel "
           "folder; or a registered model name with --weights (e.g. "
           "--source mobilenet_v3_small --weights imagenet)"),
    Opt("mode", "head", choices=TRANSFER_MODES + ("all",)),
    Opt("backbone_lr_multiplier", 0.1, t.non_negative_float,
      "backbone learning rate / head learning rate (finetune)"),
    Opt("feature_layer",
      help="last backbone layer (default: the model's feature end)"),
    Opt("head_dropout", 0.0, t.rate),
)

SEARCH = _command(
    "search", "search RandAugment's (N, M) on the validation split",
    """Search RandAugment's (N, M): train briefly per pair, score on validation.

  kzoo search --labels-per-class 10 --trials 8
  kzoo search --data DIR --model vgg11_bn --width 0.25 --sampler grid \\
      --n-values 1,2 --m-values 5,10,15

Every trial trains the same model from the same seed on the same labelled
budget with policy --augment (its {n} and {m} filled in), scored on the
validation split; then the best (N, M) and a no-augmentation baseline are
retrained and scored on the test split, and the best model is exported. A
failed trial is recorded with its error. Writes search.json (after every
trial), heatmap.png, config.json and the SavedModel, and each fit's logs
under trials/trial<i>/, best/ and baseline/; the same command into the
same --out keeps the finished trials (--fresh discards them). On the
bundled digits the budget is 10 labels per class unless a budget flag
says.""",
    "kzoo.run.search:search",
    *_with(TRAIN_OPTIONS, augment=SEARCH_TEMPLATE, epochs=100),
    Opt("trials", 8, t.trials, "(N, M) pairs to try with --sampler random"),
    Opt("sampler", "random", choices=("random", "grid"),
      help="random: --trials distinct pairs; grid: every pair"),
    Opt("n_values", [1, 2, 3], t.randaugment_ops),
    Opt("m_values", list(range(1, 31, 2)), t.magnitudes),
)

LABEL_BUDGET = _command(
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
request (--techniques) flexmatch (fixmatch --flexmatch) and
fixmatch_noisy_student (noisy-student --teacher-method fixmatch).
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

EVALUATE = _command(
    "evaluate", "score an exported SavedModel through serving_default",
    """Score an exported SavedModel through its serving_default signature.

  kzoo evaluate --model saved_models/lenet5-digits/1 --data digits
  kzoo evaluate --model saved_models/lenet5-digits     # latest version, its data

Without --data the test split of the data the run trained on is scored: the
--data (with its --data-dir and --classes, unless given) recorded in the
run's config.json (in the version folder's assets.extra/, else next to
it); with no record, the bundled digits. The first line says which.
Test images are fed encoded (file bytes, or PNG for in-memory data), as TF
Serving receives them; predicted class names are matched to the data's.
Files the data scan skipped are counted, listed with their reasons and
recorded (skipped_files), never scored.""",
    "kzoo.run.evaluate:evaluate",
    Opt("model", required=True,
      help="SavedModel version folder, or a base folder of numbered versions "
           "(the latest is scored)"),
    *_with(DATA, data=None),
    Opt("task", help="output of a multi-task export to score, e.g. 'new' or 'old' "
                   "(an LwF model) (default: the single output)"),
    Opt("batch_size", 64, t.batch_size),
    Opt("out", help="metrics JSON path (default: not written)"),
    Opt("smoke", False, kind="switch", help="score 2 batches only"),
)

INFO = _command(
    "info", "a model's receptive field, output size, parameters and MACs",
    """Print a model's per-layer receptive field, output size, parameters and MACs.

  kzoo info --model vgg16
  kzoo info --model alexnet --input-size 227 --num-classes 10
  kzoo info --list                                  # registered models""",
    "kzoo.run.info:info",
    Opt("model", help="registered model name"),
    Opt("list", False, kind="switch", help="list the registered models"),
    Opt("input_size", type=t.input_size, help="default: the model's"),
    Opt("channels", type=int, choices=(1, 3), help="default: the model's"),
    Opt("num_classes", 1000, t.classes),
    Opt("width", type=t.width, help="default: the builder's"),
    Opt("smoke", False, kind="switch", help="the same (info is fast)"),
)

AUGMENT_PREVIEW = _command(
    "augment-preview", "a PNG grid of images next to augmented draws of them",
    """Write a PNG grid of originals next to several augmented draws of them.

  kzoo augment-preview --augment "crop,randaugment(n=2,m=9)"
  kzoo augment-preview --data DIR --augment "flip,cutmix" --out grid.png

Row i shows training image i, then --draws augmentations of it (each draw
augments the whole batch of --images images together, so label-mixing
entries pick partners from the batch); titles give each image's top labels.""",
    "kzoo.run.augment_preview:augment_preview",
    *DATA,
    Opt("augment", "default", help=f"policy string; 'default' = '{DEFAULT_POLICY}'"),
    Opt("input_size", 32, t.input_size),
    Opt("images", 6, t.preview_images, "rows"),
    Opt("draws", 5, t.preview_draws, "augmented columns"),
    Opt("out", "augment_preview.png"),
    Opt("smoke", False, kind="switch", help="2 images, 2 draws"),
)

PREDICT = _command(
    "predict", "predict classes of new images with a trained model",
    """Predict the classes of new, unlabelled images with a trained model.

  kzoo predict --model saved_models/lenet5-digits --data new_images/
  kzoo predict --model run/1 --data 'photos/*.jpg' --top-k 3 --format json

--model is a run folder (its latest version), a SavedModel version folder
or a .keras file. --data is a folder (searched at any depth), an image file
or a glob; repeat it for more (--data a.png --data 'b,c.png': each one item)
or give one comma-separated value (split unless a file or folder of exactly
that name exists). Images are read, decoded and resized as the
export's serving_default does, streamed in batches (memory does not grow
with the number of images). A file that does not decode is counted, listed
in the output with its error, and not predicted. Writes one row per file:
the path, the top --top-k classes and their probabilities.""",
    "kzoo.run.predict:predict",
    Opt("model", required=True,
      help="run folder, SavedModel version folder or .keras file"),
    Opt("data", required=True, type=t.path_list,
      help="folder, image file or glob; repeat the flag for more (each "
           "--data is one item, commas and all), or give one "
           "comma-separated value, which is split unless a file or folder of "
           "exactly that name exists; a config file's list is item by item"),
    Opt("out", help="output file (default: predictions.csv, or .json with "
                    "--format json)"),
    Opt("format", "csv", choices=("csv", "json")),
    Opt("top_k", 1, t.classes, "classes per image"),
    Opt("batch_size", 64, t.batch_size),
    Opt("smoke", False, kind="switch", help="predict 2 batches only"),
)

EXPORT = _command(
    "export", "export a trained model as SavedModel, LiteRT or ONNX",
    """Export a trained model as a SavedModel, LiteRT (.tflite) or ONNX file.

  kzoo export --model saved_models/lenet5-digits --format litert,onnx
  kzoo export --model model.keras --format savedmodel --out serving/lenet5

--model is a run folder, a SavedModel version folder of kzoo or a .keras
file; the class names come from the run's config.json (else --class-names,
else 0, 1, ...). Files go to --out (default: the run folder, or the folder
holding the .keras file); model_card.json there gives each format's input
contract (layout, dtype, value range, size) and outputs.""",
    "kzoo.run.export:export",
    Opt("model", required=True,
      help="run folder, kzoo SavedModel version folder or .keras file"),
    Opt("format", ["litert"], t.export_formats,
      "savedmodel, keras, litert, onnx (comma-separated)"),
    Opt("out", help="output folder (default: next to --model)"),
    Opt("class_names", type=t.name_list,
      help="class names in the model's output order (default: the run's)"),
    Opt("smoke", False, kind="switch", help="the same (export is quick)"),
)

POOL_DATA = ("a folder of images (searched at any depth, flat or nested), "
             "or a kzoo data folder (DIR/train/<class>/*, DIR/unlabeled/**)")

PRETRAIN = _command(
    "pretrain", "a self-supervised encoder (SimCLR) from unlabelled images",
    """Train a self-supervised encoder (SimCLR) on unlabelled images.

  kzoo pretrain --data photos/ --model mobilenet_v3_small --input-size 96
  kzoo pretrain --data digits --out saved_models/pretrain-digits

--model without its classifier is the encoder; two --augment views of each
image go through it and a projection head (--projection-dim), and the
NT-Xent loss (--temperature) pulls the two together and pushes the other
images of the batch away. Labels are never read: --data is """ + POOL_DATA
    + """ (train/ and unlabeled/), or 'digits' / 'tfds:NAME' (the training
images). Writes the encoder as model.keras, config.json, pretrain.json,
training_log.csv and logs/; --weights RUN of any training command starts
the same --model from it (its classifier random), and kzoo select
--embedding RUN embeds with it. Resumes when the same command runs again.""",
    "kzoo.run.pretrain:pretrain",
    Opt("data", "digits", help=POOL_DATA + ", or 'digits' / 'tfds:NAME'"),
    Opt("seed", 0, t.seed),
    *MODEL,
    Opt("epochs", type=t.epochs, exclusive="length",
      help="passes over the images instead of a --steps budget"),
    Opt("steps", type=t.steps, exclusive="length",
      help=f"training steps (default: {PRETRAIN_STEPS:,} unless --epochs)"),
    Opt("batch_size", 256, t.batch_size,
      "images per step (each gives two views: 2x as many pass the network)"),
    Opt("lr", 1e-3, t.positive_float, "Adam learning rate"),
    Opt("schedule", "cosine", choices=("constant", "cosine")),
    Opt("augment", SIMCLR_POLICY, help="policy of each of the two views"),
    Opt("temperature", 0.2, t.positive_float, "NT-Xent softmax temperature"),
    Opt("projection_dim", 128, t.classes, "width of the projection head"),
    Opt("dropout", 0.0, t.rate, "dropout of the encoder's hidden FC layers"),
    *[o for o in TRAINING if o.name in (
        "jit_compile", "steps_per_execution", "check_every")],
    Opt("out", help="output folder (default: saved_models/pretrain-<data>)"),
    Opt("smoke", False, kind="switch",
      help="wiring check: 2 steps; writes to --out/smoke"),
    *RUNTIME,
)

SELECT = _command(
    "select", "choose which images to label: TypiClust, ProbCover, margin, ...",
    """Choose which images to label, and write them as a CSV and a contact sheet.

  kzoo select --data photos/ --budget 20 --out to_label.csv
  kzoo select --data DIR --budget 50 --model saved_models/fixmatch-DIR

--data is """ + POOL_DATA + """: then the candidates are DIR/unlabeled/
and train/ counts as labelled. Without --model (nothing trained yet) the
default --strategy is typiclust: the most typical image of each of --budget
clusters of the embeddings. With --model (a kzoo run) it is margin: the
images the model is least sure between two classes; entropy and badge
(uncertain and diverse) read it too, and coreset (farthest from the
labelled images) compares its features. --embedding is what the
images are compared by: a kzoo run (e.g. a kzoo pretrain run: its
encoder's features), 'imagenet' or 'imagenet:NAME' (a registered model's
ImageNet backbone, mobilenet_v3_small by default), or 'pixels' (the images
themselves, 16x16); default: --model's features, else pixels. margin,
entropy and badge read --model's predictions and features only. Writes --out
(one row per image to label, in order: path, rank, strategy, score,
cluster) and the contact sheet --out with .png. The same --seed gives the
same choice.""",
    "kzoo.run.select:select",
    Opt("data", required=True, help=POOL_DATA),
    Opt("budget", required=True, type=t.positive_int, help="images to choose"),
    Opt("out", "selection.csv", help="CSV of the choice (and the sheet .png)"),
    Opt("strategy", choices=SELECT_STRATEGIES,
      help="default: typiclust without --model, margin with one"),
    Opt("embedding",
      help="RUN (a kzoo run folder or .keras file), imagenet[:NAME], or pixels "
           "(default: --model's features, else pixels)"),
    Opt("model", help="a trained kzoo run: its predictions (margin, entropy, "
                      "badge) and features"),
    Opt("seed", 0, t.seed),
    Opt("batch_size", 64, t.batch_size, "images per forward pass"),
    Opt("smoke", False, kind="switch",
      help="choose among the first 64 images only"),
)

LABEL = _command(
    "label", "label images in the browser: kzoo select's queue, kzoo audit's review",
    """Label images in the browser, one at a time, on this machine.

  kzoo label --data photos/ --queue to_label.csv
  kzoo label --data photos/ --review audit.csv

Serves a page on 127.0.0.1 (open the URL it prints: it carries a random
token every request must send) that shows each image of --queue (a kzoo
select CSV) with a button per class (keys 1-9, then a-z), skip (Space),
undo (Backspace) and how many are done. A label moves the image (or copies
it, --copy) into --data/train/<class>/, never over another file (a name
clash gets -1, -2, ...), and appends a row to --data/labels.csv (time,
action, path, from, to, label); undo puts it back. Classes are --classes,
then the folders of --data/train/; a new one can be added on the page.
--review FILE.csv (kzoo audit's --out) shows the likely label errors to
keep or relabel instead. Stop with Ctrl+C: every label is already on disk,
and the same command continues where the queue stands.""",
    "kzoo.run.label:label",
    Opt("data", required=True,
      help="the data folder: labelled images go to DATA/train/<class>/"),
    Opt("queue", help="CSV of the images to label (kzoo select's --out)"),
    Opt("review", help="CSV of likely label errors to review (kzoo audit's "
                       "--out), instead of --queue"),
    Opt("classes", type=t.name_list,
      help="classes to offer first (default: the folders of DATA/train/)"),
    Opt("copy", False, kind="switch",
      help="copy images into train/<class>/ (default: move them)"),
    Opt("port", type=t.port,
      help="port on 127.0.0.1 (default: 8765 or the next free one; 0: any)"),
    Opt("smoke", False, kind="switch",
      help="start, answer the page's first request, stop"),
)

AUDIT = _command(
    "audit", "find likely label errors (confident learning) and near-duplicates",
    """Find the labelled images whose label is likely wrong.

  kzoo audit --data photos/ --out audit.csv
  kzoo audit --data photos/ --technique fixmatch --steps 2000
  kzoo label --data photos/ --review audit.csv

Every image of --data/train/<class>/ gets an out-of-fold prediction: the
images are split into --folds stratified folds, and each fold is predicted
by a run of --technique (kzoo train or kzoo fixmatch, with the model and
options given here) trained on the other folds. Confident learning
(Northcutt et al. 2021, as cleanlab's find_label_issues) flags the images
whose given label the predictions contradict, most likely first; images of
different classes that look alike (cosine similarity of --embedding at
least --duplicate-threshold) follow. Writes --out (path, given, suggested,
score, issue, other) and a contact sheet beside it; kzoo label --review
shows them to keep or relabel. The fold runs go to --runs; the same
command again reuses the finished folds.""",
    "kzoo.run.audit:audit",
    Opt("data", required=True,
      help="a kzoo data folder: DATA/train/<class>/* (and DATA/unlabeled/ "
           "for --technique fixmatch)"),
    Opt("out", "audit.csv", help="CSV of the likely errors (and the sheet .png)"),
    Opt("folds", 5, t.folds, "cross-validation folds (each class needs as many "
                             "images)"),
    Opt("technique", "train", choices=("train", "fixmatch"),
      help="how each fold trains (fixmatch also reads DATA/unlabeled/)"),
    Opt("runs", help="folder of the fold runs (default: saved_models/audit-<data>)"),
    *[o.replace(default=None, help=o.help + " (default: the technique's)")
      if o.name == "model" else o for o in MODEL],
    Opt("epochs", type=t.epochs, help="default: the technique's"),
    Opt("steps", type=t.steps, help="fixmatch's training steps (default: its own)"),
    Opt("batch_size", type=t.batch_size, help="default: the technique's"),
    Opt("lr", type=t.positive_float, help="default: the technique's"),
    Opt("augment", help="default: the technique's"),
    Opt("label_smoothing", type=t.rate, help="default: the technique's"),
    Opt("dropout", type=t.rate, help="default: the technique's"),
    Opt("embedding", "pixels",
      help="what near-duplicates are compared by: pixels, imagenet[:NAME] or "
           "a kzoo run (as kzoo select --embedding)"),
    Opt("duplicate_threshold", 0.98, t.unit_interval,
      "the least cosine similarity of two near-duplicates"),
    Opt("seed", 0, t.seed),
    *[o for o in TRAINING if o.name in ("jit_compile", "steps_per_execution")],
    Opt("fresh", False, kind="switch",
      help="train every fold again (default: reuse the finished ones)"),
    Opt("smoke", False, kind="switch",
      help="wiring check: 2 folds of --smoke runs"),
)

COMMANDS = {c.name: c for c in (
    TRAIN, NOISY_STUDENT, FIXMATCH, PSEUDO_LABEL, DISTILL, LWF, TRANSFER, SEARCH,
    LABEL_BUDGET, PRETRAIN, SELECT, LABEL, AUDIT, EVALUATE, PREDICT, EXPORT, INFO,
    AUGMENT_PREVIEW)}


def get_command(name):
    """The `Command` called `name` (`noisy_student` also finds
    `noisy-student`)."""
    key = name.replace("_", "-")
    if key not in COMMANDS:
        from kzoo.errors import KzooError

        raise KzooError(f"Unknown command. Expected one of {sorted(COMMANDS)}. "
                        f"Received: {name!r}")
    return COMMANDS[key]
