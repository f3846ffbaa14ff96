"""Online pseudo-labels (Lee 2013): `kzoo pseudo-label`."""

import os

from kzoo.errors import KzooError
from kzoo.run import finish, fitting, inputs, progress
from kzoo.run.exporting import saved_model_note
from kzoo.run.result import RunResult
from kzoo.run.semi import fit_semi_supervised, pass_size, require_pool, with_budget
from kzoo.run.session import session
from kzoo.semi_supervised import PseudoLabelModel, UnlabeledWeightSchedule


def pseudo_label(config):
    """Train --model on labelled + unlabelled images with online
    pseudo-labels, the unlabelled weight ramped by `UnlabeledWeightSchedule`.

    Args:
        config: A `RunConfig` of `pseudo-label`
            (`kzoo.run.configure("pseudo-label", ...)`).

    Returns:
        `RunResult` with the network's test metrics, its SavedModel and the
        network (`PseudoLabelModel.network`).

    Raises:
        KzooError: No unlabelled images, a bad --t1/--t2, or any error of
            the run's data, model or output folder.

    Reference:
        Lee. "Pseudo-Label: The Simple and Efficient Semi-Supervised Learning
        Method for Deep Neural Networks", ICML 2013 Workshop.
    """
    config = with_budget(config)
    with session(config) as run:
        size = inputs.input_size(config)
        inputs.make_policy(config.augment, (size, size), None, config.seed)
        data = inputs.load_training_data(config, size)
        require_pool(data)
        out = run.output_dir(config.out or os.path.join(
            "saved_models", f"pseudo_label-{data.name}"))
        inputs.describe_data(data)
        t1, t2 = ramp_epochs(config)
        finish.write_config(config, data, out, input_size=size, t1=t1, t2=t2)
        model = PseudoLabelModel(
            inputs.build_model(config, data, weights=config.weights),
            unlabeled_weight=0.0,
            threshold=config.threshold, soft=config.soft,
            label_smoothing=config.label_smoothing)
        schedule = UnlabeledWeightSchedule(
            config.unlabeled_weight, t1, t2, steps_per_pass=fitting.fit_plan(
                config, pass_size(config, data, data.counts["unlabeled"])
            ).steps_per_pass)
        progress.banner(
            f"pseudo-label: {config.model} on {data.counts['train']} labelled + "
            f"{data.counts['unlabeled']} unlabelled images; weight 0 -> "
            f"{config.unlabeled_weight:g} from epoch {t1} to {t2}")
        fit_semi_supervised(model, config, data, data.unlabeled,
                            data.counts["unlabeled"], out,
                            extra_callbacks=[schedule], phase="pseudo-label")
        metrics, version_dir = finish.finish(model.network, config, data, out)
    progress.say(f"test accuracy {progress.number(metrics['test_accuracy'])} on "
                 f"{metrics['num_examples']} images; {saved_model_note(version_dir)}")
    return RunResult("pseudo-label", out, metrics, version_dir, model=model.network)


def ramp_epochs(config):
    """`(t1, t2)` of the α(t) ramp: --t1/--t2, or 10% / 60% of --epochs.

    Raises:
        KzooError: Unless 0 <= t1 <= t2.
    """
    t1 = int(0.1 * config.epochs) if config.t1 is None else config.t1
    t2 = max(t1, int(0.6 * config.epochs)) if config.t2 is None else config.t2
    if not 0 <= t1 <= t2:
        raise KzooError(f"Expected 0 <= --t1 <= --t2. Received: t1={t1}, t2={t2}")
    return t1, t2


