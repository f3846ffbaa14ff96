"""The unlabelled-loss weight α(t) of Pseudo-Label (Lee 2013, equation 16)."""

import keras


def ramp_weight(epoch, final_weight, t1, t2):
    """α(t): 0 before epoch `t1`, linear to `final_weight` at `t2`, then flat.

    Lee (2013) used α_f = 3, T1 = 100, T2 = 600 (epochs). `t1 == t2` is a step
    from 0 to `final_weight` at `t1`.

    Args:
        epoch: Current epoch t (0-based, as Keras counts).
        final_weight: α_f >= 0.
        t1: Ramp start: the weight is 0 up to and including epoch `t1`.
        t2: Epoch from which the weight is `final_weight` (>= `t1`).

    Returns:
        A float.

    Raises:
        ValueError: If `t2 < t1`, `t1 < 0` or `final_weight < 0`.
    """
    if t1 < 0 or t2 < t1 or final_weight < 0:
        raise ValueError(
            "Expected 0 <= t1 <= t2 and final_weight >= 0. Received: "
            f"t1={t1}, t2={t2}, final_weight={final_weight}"
        )
    if epoch < t1:
        return 0.0
    if epoch >= t2:
        return float(final_weight)
    return float(final_weight) * (epoch - t1) / (t2 - t1)


class UnlabeledWeightSchedule(keras.callbacks.Callback):
    """Set `model.unlabeled_weight` to α(epoch) as training goes.

    Without `steps_per_pass` an epoch is a Keras epoch and the weight is set
    when it begins. With it an epoch is a pass of that many steps (a Keras
    epoch may hold several, see `kzoo.training.plan`): the weight is set
    before each graph call from the optimizer's step count (restored with
    a backup), so it changes at the first call of each pass.

    Args:
        final_weight: α_f.
        t1: Ramp start epoch (weight 0 until then).
        t2: Ramp end epoch (weight α_f from then on).
        steps_per_pass: Steps in one pass (None: Keras epochs).
        verbose: Print the weight when it changes.
    """

    def __init__(self, final_weight, t1, t2, steps_per_pass=None, verbose=0):
        super().__init__()
        ramp_weight(0, final_weight, t1, t2)  # validate now
        if steps_per_pass is not None and steps_per_pass < 1:
            raise ValueError("`steps_per_pass` must be >= 1. Received: "
                             f"steps_per_pass={steps_per_pass}")
        self.final_weight, self.t1, self.t2 = final_weight, t1, t2
        self.steps_per_pass = steps_per_pass
        self.verbose = verbose
        self._epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.steps_per_pass is None:
            self._set(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self.steps_per_pass is not None:
            step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            self._set(step // self.steps_per_pass)

    def _set(self, epoch):
        if epoch == self._epoch:
            return
        value = ramp_weight(epoch, self.final_weight, self.t1, self.t2)
        self.model.unlabeled_weight.assign(value)
        if self.verbose and value != ramp_weight(
            epoch - 1, self.final_weight, self.t1, self.t2
        ):
            print(f"epoch {epoch + 1}: unlabelled loss weight {value:.3f}")
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["unlabeled_weight"] = float(self.model.unlabeled_weight.numpy())
