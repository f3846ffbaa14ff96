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
    """Set `model.unlabeled_weight` to α(epoch) at the start of each epoch.

    Args:
        final_weight: α_f.
        t1: Ramp start epoch (weight 0 until then).
        t2: Ramp end epoch (weight α_f from then on).
        verbose: Print the weight when it changes.
    """

    def __init__(self, final_weight, t1, t2, verbose=0):
        super().__init__()
        ramp_weight(0, final_weight, t1, t2)  # validate now
        self.final_weight, self.t1, self.t2 = final_weight, t1, t2
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        value = ramp_weight(epoch, self.final_weight, self.t1, self.t2)
        self.model.unlabeled_weight.assign(value)
        if self.verbose and value != ramp_weight(
            epoch - 1, self.final_weight, self.t1, self.t2
        ):
            print(f"epoch {epoch + 1}: unlabelled loss weight {value:.3f}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["unlabeled_weight"] = float(self.model.unlabeled_weight.numpy())
