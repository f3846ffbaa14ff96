"""Model builders and the registry.

Importing this package registers every builder:
`create_model("vgg11_bn", num_classes=10, input_shape=(32, 32, 3), width=0.25)`.
What each model takes is in its entry: `get_model_entry("lenet5").options`.
Pretrained weights: `create_model("vgg16", weights="imagenet")`, or
`initial_weights(model, "imagenet")` for a model with its own classifier.
"""

from kzoo.models.alexnet import alexnet
from kzoo.models.baselines import KNNClassifier, perceptron
from kzoo.models.lenet import lenet5
from kzoo.models.registry import (
    NO_MODEL_NOISE,
    ModelEntry,
    ModelNoise,
    family_noise,
    get_model_entry,
    list_families,
    list_models,
    model_entry_of,
    register_model,
)
from kzoo.models.vgg import (
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
)
from kzoo.models.factory import create_model
from kzoo.models.pretrained import (
    IMAGENET,
    PRETRAINED,
    imagenet_weights_path,
    initial_weights,
    pretrained_models,
)
from kzoo.models.weights import (
    backbone_layers,
    copy_weights,
    load_backbone_weights,
    load_keras_applications_weights,
)

__all__ = [
    "IMAGENET",
    "KNNClassifier",
    "ModelEntry",
    "ModelNoise",
    "NO_MODEL_NOISE",
    "PRETRAINED",
    "alexnet",
    "backbone_layers",
    "copy_weights",
    "create_model",
    "family_noise",
    "get_model_entry",
    "imagenet_weights_path",
    "initial_weights",
    "lenet5",
    "list_families",
    "list_models",
    "load_backbone_weights",
    "load_keras_applications_weights",
    "model_entry_of",
    "perceptron",
    "pretrained_models",
    "register_model",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]
