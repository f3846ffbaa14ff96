"""Image operations in `keras.ops` shared by the augmentation layers.

All functions take float images with pixel values in [0, 255] and channels
last. The colour operations work on one image `(H, W, C)` or a batch
`(B, H, W, C)` (factors broadcast, e.g. `(B, 1, 1, 1)` per image); the
geometric helpers work on batches with one `(2, 3)` matrix per image.
Colour operations follow PIL's `ImageOps` / `ImageEnhance` definitions, which
the RandAugment and AutoAugment reference code uses.
"""

from keras import ops

FILL_VALUE = 128.0  # grey, the fill of the TPU reference and timm
_GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # PIL's "L" conversion (ITU-R 601-2)


def grayscale(image):
    """PIL "L" luminance, shape `(..., H, W, 1)`; one channel passes through."""
    if image.shape[-1] == 1:
        return image
    return ops.sum(
        image * ops.convert_to_tensor(_GRAY_WEIGHTS, image.dtype),
        axis=-1,
        keepdims=True,
    )


def blend(degenerate, image, factor):
    """`degenerate + factor * (image - degenerate)`, clipped to [0, 255].

    factor 1 returns the image, 0 the degenerate image; above 1 extrapolates
    (PIL `ImageEnhance`).
    """
    return ops.clip(degenerate + factor * (image - degenerate), 0.0, 255.0)


def brightness(image, factor):
    """PIL `ImageEnhance.Brightness`: blend with a black image."""
    return blend(ops.zeros_like(image), image, factor)


def color(image, factor):
    """PIL `ImageEnhance.Color`: blend with the grayscale image."""
    return blend(ops.broadcast_to(grayscale(image), ops.shape(image)), image, factor)


def contrast(image, factor):
    """PIL `ImageEnhance.Contrast`: blend with each image's mean grey level."""
    mean = ops.mean(grayscale(image), axis=(-3, -2, -1), keepdims=True)
    return blend(
        ops.broadcast_to(ops.floor(mean + 0.5), ops.shape(image)), image, factor
    )


def sharpness(image, factor):
    """PIL `ImageEnhance.Sharpness`: blend with PIL's SMOOTH filter.

    The smoothing kernel is [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13; border
    pixels of the degenerate image are the original ones, as in PIL.
    """
    # Shifted slices, not a convolution: a 3x3 box sum (rows, then columns)
    # plus 4x the centre. Padding, slicing and elementwise ops have exact
    # shapes for every batch size, 0 included, in every backend; convolution
    # kernels need not (on AVX-512 CPUs TensorFlow's oneDNN "valid" depthwise
    # conv returned an empty batch unshrunk, (0, H, W, C)). Integer pixels
    # sum exactly, then one division. Any image size: the padded ring and
    # the border never reach the output.
    padding = [(0, 0)] * (len(image.shape) - 3) + [(1, 1), (1, 1), (0, 0)]
    padded = ops.pad(image, padding)
    rows = padded[..., :-2, :, :] + padded[..., 1:-1, :, :] + padded[..., 2:, :, :]
    box = rows[..., :, :-2, :] + rows[..., :, 1:-1, :] + rows[..., :, 2:, :]
    total = box + 4.0 * image
    height, width = ops.shape(image)[-3], ops.shape(image)[-2]
    row = ops.arange(height)[:, None, None]
    col = ops.arange(width)[None, :, None]
    interior = (row > 0) & (row < height - 1) & (col > 0) & (col < width - 1)
    return blend(ops.where(interior, total / 13.0, image), image, factor)


def solarize(image, threshold):
    """PIL `ImageOps.solarize`: invert every pixel at or above `threshold`."""
    return ops.where(image < threshold, image, 255.0 - image)


def posterize(image, bits):
    """PIL `ImageOps.posterize`: keep the `bits` most significant bits."""
    shift = ops.cast(8 - bits, "int32")
    pixels = ops.cast(ops.clip(ops.floor(image), 0, 255), "int32")
    kept = ops.left_shift(ops.right_shift(pixels, shift), shift)
    return ops.cast(kept, image.dtype)


def auto_contrast(image):
    """PIL `ImageOps.autocontrast`: stretch each channel to [0, 255].

    A constant channel is left unchanged.
    """
    # `initial` (outside no valid pixel) lets Keras reduce an empty batch.
    low = ops.min(image, axis=(-3, -2), keepdims=True, initial=255.0)
    high = ops.max(image, axis=(-3, -2), keepdims=True, initial=0.0)
    scale = ops.where(high > low, 255.0 / ops.maximum(high - low, 1e-6), 1.0)
    offset = ops.where(high > low, low, 0.0)
    return ops.clip((image - offset) * scale, 0.0, 255.0)


def equalize(image):
    """PIL `ImageOps.equalize`: per-image, per-channel histogram equalisation.

    Uses PIL's look-up table: `step = (N - count of the last non-empty bin)
    // 255` and `lut[i] = (step // 2 + cumsum_exclusive[i]) // step`; a
    channel with `step == 0` is unchanged. `(H, W, C)` or `(B, H, W, C)`.
    """
    batch = image if len(image.shape) == 4 else image[None]
    channels = image.shape[-1]
    pixels = ops.cast(ops.clip(ops.floor(batch), 0, 255), "int32")
    # One row per (image, channel): (B * C, H * W).
    rows = ops.reshape(
        ops.transpose(pixels, (0, 3, 1, 2)),
        (-1, ops.shape(batch)[1] * ops.shape(batch)[2]),
    )
    hist = ops.cast(ops.bincount(rows, minlength=256)[:, :256], "int32")  # (B * C, 256)
    total = ops.sum(hist, axis=-1)
    last_bin = 255 - ops.argmax(ops.flip(hist > 0, axis=-1), axis=-1)
    last_count = ops.take_along_axis(
        hist, ops.cast(last_bin, "int32")[:, None], axis=-1
    )[:, 0]
    step = (total - last_count) // 255
    cumsum = ops.cumsum(hist, axis=-1) - hist
    safe_step = ops.maximum(step, 1)[:, None]
    lut = ops.clip((safe_step // 2 + cumsum) // safe_step, 0, 255)  # (B * C, 256)
    mapped = ops.take_along_axis(lut, rows, axis=-1)
    shape = ops.shape(batch)
    mapped = ops.transpose(
        ops.reshape(mapped, (shape[0], channels, shape[1], shape[2])), (0, 2, 3, 1)
    )
    changed = ops.reshape(step > 0, (shape[0], 1, 1, channels))
    out = ops.where(changed, ops.cast(mapped, image.dtype), batch)
    return out if len(image.shape) == 4 else out[0]


# --- geometry: 3x3 matrices that map output pixel coordinates to input ones ---


def affine_from_points(src, dst):
    """Solve the affine map sending three points `src` to `dst`.

    The `cv2.getAffineTransform` idea: six parameters from three point
    correspondences. Points are `(x, y)`; batched `(B, 3, 2)` or `(3, 2)`.

    Returns:
        `(..., 2, 3)` matrices `A` with `dst = A @ [x, y, 1]`.

    Raises:
        A singular system (collinear points) gives non-finite values; the
        layers only pass non-collinear anchors.
    """
    src = ops.convert_to_tensor(src, "float32")
    dst = ops.convert_to_tensor(dst, "float32")
    ones = ops.ones_like(src[..., :1])
    system = ops.concatenate([src, ones], axis=-1)  # (..., 3, 3): rows [x y 1]
    solution = ops.linalg.solve(system, dst)  # (..., 3, 2)
    return ops.swapaxes(solution, -1, -2)


def to_keras_transform(matrix):
    """`(B, 2, 3)` or `(B, 3, 3)` output->input matrices as Keras's `(B, 8)`."""
    batch = ops.shape(matrix)[0]
    flat = ops.reshape(matrix[:, :2, :], (batch, 6))
    return ops.concatenate([flat, ops.zeros((batch, 2), dtype=flat.dtype)], axis=-1)


def centered(matrix, height, width):
    """Conjugate `(B, 2, 3)` matrices so that they act about the image centre.

    For output->input `A p + t` this is `A (p - c) + t + c`, c the centre.
    """
    center = ops.convert_to_tensor(
        [(float(width) - 1.0) / 2.0, (float(height) - 1.0) / 2.0]
    )
    # Elementwise, not einsum (a matmul kernel): exact shapes for any batch.
    linear = matrix[:, :, :2]
    moved = linear[:, :, 0] * center[0] + linear[:, :, 1] * center[1]
    offset = matrix[:, :, 2] + center - moved
    return ops.concatenate([linear, offset[:, :, None]], axis=-1)


def warp(images, matrix, interpolation="bilinear", fill_value=FILL_VALUE):
    """Apply `(B, 2, 3)` output->input matrices to a `(B, H, W, C)` batch."""
    return ops.image.affine_transform(
        images,
        to_keras_transform(matrix),
        interpolation=interpolation,
        fill_mode="constant",
        fill_value=fill_value,
    )


def shear_matrix(shear_x, shear_y):
    """Output->input shear about the origin; `(B,)` factors each."""
    one, zero = ops.ones_like(shear_x), ops.zeros_like(shear_x)
    return ops.stack(
        [ops.stack([one, shear_x, zero], -1), ops.stack([shear_y, one, zero], -1)],
        axis=1,
    )


def translate_matrix(dx, dy):
    """Output->input translation moving content by `(+dx, +dy)` pixels."""
    one, zero = ops.ones_like(dx), ops.zeros_like(dx)
    return ops.stack(
        [ops.stack([one, zero, -dx], -1), ops.stack([zero, one, -dy], -1)], axis=1
    )


def rotate_matrix(degrees):
    """Output->input rotation about the origin (counter-clockwise content)."""
    theta = degrees * (3.141592653589793 / 180.0)
    cos, sin, zero = ops.cos(theta), ops.sin(theta), ops.zeros_like(theta)
    return ops.stack(
        [ops.stack([cos, -sin, zero], -1), ops.stack([sin, cos, zero], -1)], axis=1
    )


def check_interpolation(interpolation):
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(
            "`interpolation` must be 'nearest' or 'bilinear'. "
            f"Received: interpolation={interpolation}"
        )
    return interpolation


def check_value_range(value_range):
    if (
        not isinstance(value_range, (tuple, list))
        or len(value_range) != 2
        or not value_range[0] < value_range[1]
    ):
        raise ValueError(
            "`value_range` must be a pair (low, high) with low < high. "
            f"Received: value_range={value_range}"
        )
    return tuple(float(v) for v in value_range)


def to_255(images, value_range):
    low, high = value_range
    if (low, high) == (0.0, 255.0):
        return images
    return (images - low) * (255.0 / (high - low))


def from_255(images, value_range):
    low, high = value_range
    if (low, high) == (0.0, 255.0):
        return images
    return images * ((high - low) / 255.0) + low
