"""`LwFModel`: Learning without Forgetting (Li & Hoiem 2018)."""

import keras
import tensorflow as tf

from kzoo.errors import KzooError
from kzoo.models.heads import logits_layer
from kzoo.training import losses
from kzoo.training.sources import is_layered, load_model_source
from kzoo.training.transfer import copy_model, features_of
from kzoo.training.wrapper import LossTerms, WrapperModel, images_of, record_outputs

OLD_LOGITS = "old_logits"
NEW_HEAD = "new_predictions"


class LwFModel(WrapperModel):
    """Learn a new task on an old model's backbone without forgetting the old.

    The network shares the old model's backbone between its old head and a
    new head (`new_predictions`) and returns `{"old": logits, "new": logits}`.
    Loss per example: `CE(new label, new head) + old_loss_weight · T² ·
    KL(softmax(recorded / T) ‖ softmax(old head / T))`, where `recorded` are
    the *original* model's old-head logits on the same new-task image,
    recorded once before training (`record_old_outputs`), so no old-task
    data is needed.

    The paper's procedure, which `kzoo lwf` (`kzoo.run.lwf`) runs:
    1. `record_old_outputs(train_data)`;
    2. warm-up: `freeze(backbone=True, old_head=True)`, compile, fit (the new
       head alone learns);
    3. joint: `freeze(backbone=False, old_head=False)`, compile, fit.
    With `old_loss_weight=0` and `freeze(backbone=False, old_head=True)` in
    step 3 it is plain fine-tuning; stopping after step 2 is feature
    extraction: the paper's baselines.

    The recorded outputs come from inference mode, so when the network has
    Dropout or BatchNormalization layers the old-task term uses a second,
    inference-mode forward pass (with gradients): comparing it with the
    training-mode output would count dropout noise as forgetting. Measured
    on digits 0-4 -> 5-9 with a LeNet-5 trained with dropout 0.5: without
    this, LwF lost 22.8 points on the old task against fine-tuning's 40.6.

    Logged: `loss`, `new_loss`, `old_loss` (the T²-scaled distillation; 0
    on data without recorded outputs) and the compiled metrics of the new
    head. Exports with `export_saved_model(lwf.network, dir, {"old": [...],
    "new": [...]})`, one set of outputs per task.

    Args:
        old_model: The trained old-task classifier (`keras.Model`, `.keras`
            file or kzoo SavedModel); copied, never modified.
        num_classes: Classes of the new task.
        temperature: T of the distillation (paper: 2).
        old_loss_weight: λ_o (paper: 1).
        feature_layer: Last shared layer; default: all but the last layer
            (the paper shares everything but the task's output layer).
        label_smoothing: Label smoothing of the new-task cross-entropy.
        name: Model name.

    Reference:
        Li, Hoiem. "Learning without Forgetting", TPAMI 2018.
    """

    LOSS_KEYS = ("loss", "new_loss", "old_loss")
    METRICS_OUTPUT = "new"  # the compiled metrics measure the new task

    def __init__(
        self,
        old_model,
        num_classes,
        temperature=2.0,
        old_loss_weight=1.0,
        feature_layer=None,
        label_smoothing=0.0,
        name="lwf",
        **kwargs,
    ):
        temperature = losses.check_temperature(temperature)
        if not old_loss_weight >= 0:
            raise ValueError(
                f"`old_loss_weight` must be >= 0. Received: {old_loss_weight}"
            )
        old = load_model_source(old_model)
        if not is_layered(old):
            raise KzooError("LwF needs the old model's Keras layers (a .keras file).")
        old = copy_model(old)
        features = features_of(old, feature_layer, cut="last")
        new = logits_layer(num_classes, name=NEW_HEAD)(features)
        network = keras.Model(
            old.input, {"old": old.output, "new": new}, name=f"{old.name}_lwf"
        )
        super().__init__(
            network, label_smoothing=label_smoothing, name=name, **kwargs
        )
        shared = keras.Model(old.input, features)
        shared_names = {layer.name for layer in shared.layers}
        self.backbone_layers = [layer for layer in shared.layers if layer.weights]
        self.old_head_layers = [
            layer
            for layer in old.layers
            if layer.name not in shared_names and layer.weights
        ]
        self.new_head = self.network.get_layer(NEW_HEAD)
        self.temperature = temperature
        self.old_loss_weight = float(old_loss_weight)
        self.stochastic = any(
            isinstance(layer, (keras.layers.Dropout, keras.layers.BatchNormalization))
            for layer in self.network.layers
        )

    def freeze(self, backbone, old_head):
        """Set which shared parts train (the new head always does); compile
        again afterwards."""
        for layer in self.backbone_layers:
            layer.trainable = not backbone
        for layer in self.old_head_layers:
            layer.trainable = not old_head

    def record_old_outputs(self, dataset, batch_size=256):
        """The old head's logits on `dataset`'s images, before any training.

        Args:
            dataset: Unbatched `(image, label)` new-task dataset in a fixed
                order (no shuffle or random augmentation before this).
            batch_size: Batch size of the recording pass.

        Returns:
            A cached, unbatched `({"images": ..., "old_logits": ...}, label)`
            dataset for `kzoo.data.batched` and `fit`.
        """
        return record_outputs(
            lambda images: self.network.predict(images, verbose=0)["old"],
            dataset,
            OLD_LOGITS,
            batch_size,
        )

    def forward(self, x, y, sample_weight=None, training=False):
        recorded = x.get(OLD_LOGITS) if isinstance(x, dict) else None
        if training and recorded is None:
            raise KzooError(
                "LwFModel trains on data from `record_old_outputs` (images with "
                "the original model's old-head logits)."
            )
        images = images_of(x)
        outputs = self.network(images, training=training)
        if training and self.stochastic:
            # The recording ran in inference mode: compare like with like,
            # or dropout / batch-statistics noise reads as forgetting.
            old = self.network(images, training=False)["old"]
            outputs = {"old": old, "new": outputs["new"]}
        terms, has_old = self.loss_terms(y, outputs, recorded, sample_weight)
        return LossTerms(terms, outputs["new"], {"old_loss": has_old})

    def loss_terms(self, y, outputs, recorded, sample_weight=None):
        """Per-example `loss`, `new_loss`, `old_loss` and the old-loss weights."""
        new_loss = self.hard_label_loss(y, outputs["new"])
        if recorded is None:
            old_loss = tf.zeros_like(new_loss)
            has_old = tf.zeros_like(new_loss)
        else:
            old_loss = losses.distillation_loss(
                recorded, outputs["old"], self.temperature
            )
            has_old = tf.ones_like(new_loss)
        terms = {
            "loss": new_loss + self.old_loss_weight * old_loss,
            "new_loss": new_loss,
            "old_loss": old_loss,
        }
        return {k: self.weighted(v, sample_weight) for k, v in terms.items()}, has_old
