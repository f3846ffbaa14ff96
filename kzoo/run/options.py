"""The option groups commands share, and how a command is defined.

Options come in groups that techniques share (data, model, label budget,
training, output, runtime, semi-supervised); a command (one module of
`kzoo.run.commands`) is its groups plus its own options, with the
defaults its technique needs (`with_defaults`). Each option is defined
once for the command line, `--config` files and the recorded
`config.json` (see `config`).

TensorFlow-free on purpose: `kzoo --help` imports only these modules.
"""

from kzoo.run import types as t
from kzoo.run.config import Command, Option

# The same values as kzoo.augment.DEFAULT_POLICY, kzoo.runtime.STRATEGIES
# and kzoo.training.plan.CHECK_EVERY (tests/run/test_config.py checks), kept
# here so that help needs no TensorFlow import.
DEFAULT_POLICY = "crop"
STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
CHECK_EVERY = 250  # = kzoo.training.plan.CHECK_EVERY

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


def with_defaults(options, **defaults):
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


def command(name, summary, description, target, *options):
    """A `Command`: its name, one-line summary, `--help` description, the
    run function (`"module:function"`, imported only to run) and options."""
    return Command(name, summary, description, target, tuple(options))


POOL_DATA = ("a folder of images (searched at any depth, flat or nested), "
             "or a kzoo data folder (DIR/train/<class>/*, DIR/unlabeled/**)")
