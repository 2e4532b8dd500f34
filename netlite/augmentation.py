"""Data augmentation: new training images made from old ones, a little different each epoch.

A network trained on digits moved by a pixel or two learns that their
position does not matter, and it generalises better to the test images. The
labels stay as they are, so the function takes and returns images only:

    for x_batch, y_batch in nl.batch_handler(X_train, y_train, batchsize=32, shuffle=True):
        loss, metrics = optimizer.step(model, nl.random_shift(x_batch), y_batch)

or ``nl.train(..., augment=nl.random_shift)``. Augment training batches only,
never the validation or test images.
"""

import numpy as np

from .seeding import default_rng


def random_shift(images, max_shift=2, rng=None):
    """Return a copy of the images, each moved by up to ``max_shift`` pixels in both directions.

    images: (N, H, W, C). Each image gets its own shift, drawn uniformly from
    -max_shift to +max_shift pixels vertically and horizontally, from ``rng`` or
    else from the generator that ``netlite.seed`` resets. Pixels that move in
    from outside the image are 0, the background of MNIST digits; pixels that
    move out are lost.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        hints = {
            1: "; reshape one flattened image first, e.g. X.reshape(1, 28, 28, 1) for MNIST",
            2: "; for one grey image pass X[None, :, :, None], and reshape flattened images first, "
            "e.g. X.reshape(-1, 28, 28, 1) for MNIST",
            3: "; for a batch of grey images pass X[..., None], for one image of shape (height, width, "
            "channels) X[None], and for one image stored channels first X.transpose(1, 2, 0)[None]",
        }
        raise ValueError(
            f"random_shift: expected images of shape (batch, height, width, channels), got {images.shape}"
            f"{hints.get(images.ndim, '')}"
        )
    if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise ValueError(f"random_shift: max_shift must be a whole number of pixels, 0 or more, got {max_shift!r}")
    max_shift = int(max_shift)  # a numpy uint8 would overflow in 2 * max_shift + 1
    n, height, width, channels = images.shape
    if height <= 4 and width > 4 and channels > 4:
        # Grey, colour or RGBA images stored channels first, as PyTorch stores them.
        # NOTE: channels-last maps at most 4 pixels high with over 4 channels are rejected too.
        # random_shift is meant for whole images, which are higher.
        raise ValueError(
            f"random_shift: got images of shape {images.shape}, which look stored channels first; "
            f"convert them to (batch, height, width, channels) with X.transpose(0, 2, 3, 1)"
        )
    if max_shift >= min(height, width):
        raise ValueError(
            f"random_shift: max_shift {max_shift} would move {height}x{width} images out of view; "
            f"give a max_shift below {min(height, width)}"
        )
    rng = rng if rng is not None else default_rng()

    # Pad every image with max_shift zeros on each side, then cut out a window of the original size.
    # A window that starts at row `top` moves the image down by max_shift - top rows.
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    top = rng.integers(0, 2 * max_shift + 1, size=n)
    left = rng.integers(0, 2 * max_shift + 1, size=n)
    rows = top[:, None, None] + np.arange(height)[None, :, None]  # (n, height, 1)
    columns = left[:, None, None] + np.arange(width)[None, None, :]  # (n, 1, width)
    return padded[np.arange(n)[:, None, None], rows, columns]
