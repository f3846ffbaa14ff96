"""Model builders and the registry.

Importing this package registers every builder:
`create_model("vgg11_bn", num_classes=10, input_shape=(32, 32, 3), width=0.25)`.
What each model takes is in its entry: `get_model_entry("lenet5").options`.
Pretrained weights: `create_model("vgg16", weights="imagenet")` (VGG-16/19,
and the `keras.applications` backbones of `kzoo.models.applications`:
MobileNetV3, EfficientNetV2-B0, ResNet50V2, ConvNeXt-Tiny), or
`initial_weights(model, "imagenet")` for a model with its own classifier.
"""

from kzoo.models.alexnet import alexnet
from kzoo.models.applications import (
    convnext_tiny,
    efficientnet_v2_b0,
    mobilenet_v3_large,
    mobilenet_v3_small,
    resnet50_v2,
)
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
    weighted_layers,
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
    "convnext_tiny",
    "copy_weights",
    "create_model",
    "efficientnet_v2_b0",
    "family_noise",
    "get_model_entry",
    "imagenet_weights_path",
    "initial_weights",
    "lenet5",
    "list_families",
    "list_models",
    "load_backbone_weights",
    "load_keras_applications_weights",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "model_entry_of",
    "perceptron",
    "pretrained_models",
    "register_model",
    "resnet50_v2",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "weighted_layers",
]
