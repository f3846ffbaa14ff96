"""PNG plots: confusion matrices and perceptron weight templates."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_confusion_matrix(confusion, class_names, path, title="Confusion matrix"):
    """Write a confusion matrix (rows = true class) as a PNG."""
    cm = np.asarray(confusion)
    size = max(4.0, 0.5 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names, rotation=90)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = cm.max() / 2 if cm.size else 0
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                color="white" if v > threshold else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_weight_templates(model, path, class_names=None, layer_name="predictions"):
    """Render a perceptron's per-class weight templates as a PNG grid.

    Each class's kernel column is reshaped to the input image and scaled to
    its own min-max range: the "mean image" each class is matched against.

    Args:
        model: A model whose `layer_name` Dense layer sees the flattened image
            (e.g. `kzoo.models.perceptron`).
        path: Output PNG path.
        class_names: Optional titles.
        layer_name: Name of the Dense layer.

    Returns:
        The templates as a float array `[num_classes, H, W, C]` in [0, 1].
    """
    kernel = np.asarray(model.get_layer(layer_name).kernel)
    shape = tuple(model.input_shape[1:])
    if kernel.shape[0] != int(np.prod(shape)):
        raise ValueError(
            f"Layer '{layer_name}' does not see the flattened input "
            f"{shape}. Received: kernel shape {kernel.shape}"
        )
    templates = kernel.T.reshape((-1,) + shape)
    lo = templates.min(axis=(1, 2, 3), keepdims=True)
    hi = templates.max(axis=(1, 2, 3), keepdims=True)
    templates = (templates - lo) / np.maximum(hi - lo, 1e-12)
    n = len(templates)
    cols = min(n, 10)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.7 * rows),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            img = templates[i]
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray")
            ax.set_title(class_names[i] if class_names else str(i), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return templates
