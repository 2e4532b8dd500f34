"""Tests for nl.random_shift and for nl.train's augment hook."""

import numpy as np
import pytest

import netlite as nl


def numbered_images(n=50, height=6, width=7, channels=2):
    """Images whose pixels are all different and nonzero, so that every shift can be read off."""
    return (np.arange(n * height * width * channels, dtype=np.float32) + 1).reshape(n, height, width, channels)


def shifted_by(image, down, right):
    """Move one (H, W, C) image down and right (negative: up and left) with plain slicing. Zeros fill the gap."""
    height, width = image.shape[:2]
    result = np.zeros_like(image)
    result[max(down, 0) : height + min(down, 0), max(right, 0) : width + min(right, 0)] = image[
        max(-down, 0) : height - max(down, 0), max(-right, 0) : width - max(right, 0)
    ]
    return result


def test_each_image_is_moved_within_max_shift():
    images = numbered_images()
    shifted = nl.random_shift(images, max_shift=2, rng=np.random.default_rng(0))
    assert shifted.shape == images.shape
    assert shifted.dtype == images.dtype
    seen = set()
    for image, result in zip(images, shifted):
        matches = [
            (down, right)
            for down in range(-2, 3)
            for right in range(-2, 3)
            if np.array_equal(result, shifted_by(image, down, right))
        ]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 10  # 50 images spread over the 25 possible shifts


def test_input_unchanged_and_zero_shift_copies():
    images = numbered_images(n=4)
    before = images.copy()
    nl.random_shift(images, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(images, before)
    same = nl.random_shift(images, max_shift=0)
    np.testing.assert_array_equal(same, images)
    assert same is not images


def test_shift_draws_from_seeded_generator():
    images = numbered_images(n=8)
    nl.seed(3)
    first = nl.random_shift(images)
    nl.seed(3)
    np.testing.assert_array_equal(nl.random_shift(images), first)


def test_shift_with_small_numpy_integer():
    images = numbered_images(n=20, height=300, width=300, channels=1)
    shifted = nl.random_shift(images, np.uint8(128), rng=np.random.default_rng(2))  # 2 * 128 + 1 overflows uint8
    first_rows = [np.flatnonzero(image[:, 150, 0])[0] for image in shifted]
    assert len(set(first_rows)) > 1  # different shifts, not one fixed move


@pytest.mark.parametrize("shape", [(10, 4, 4, 8), (10, 5, 5, 16), (10, 3, 30, 3), (10, 28, 28, 3)])
def test_shift_accepts_small_feature_maps(shape):
    assert nl.random_shift(np.ones(shape), max_shift=1).shape == shape


def test_shift_of_empty_batch():
    assert nl.random_shift(np.zeros((0, 5, 5, 1))).shape == (0, 5, 5, 1)


@pytest.mark.parametrize(
    "images, max_shift, message",
    [
        (np.zeros((2, 784)), 2, r"got \(2, 784\); for one grey image pass X\[None, :, :, None\], and reshape flattened"),
        (np.zeros(784), 2, r"got \(784,\); reshape one flattened image first, e.g. X.reshape\(1, 28, 28, 1\) for MNIST"),
        (np.zeros((3, 32, 32)), 2, r"for one image stored channels first X.transpose\(1, 2, 0\)\[None\]"),
        (np.zeros((1, 2, 28, 28, 1)), 2, r"expected images of shape \(batch, height, width, channels\), got \(1, 2, 28, 28, 1\)$"),
        (np.zeros((28, 28, 1)), 2, r"got \(28, 28, 1\); for a batch of grey images pass X\[..., None\], for one image"),
        (np.zeros((10, 4, 4)), 1, r"got \(10, 4, 4\); for a batch of grey images pass X\[..., None\]"),
        (np.zeros((10, 4, 32, 32)), 2, r"look stored channels first"),
        (np.zeros((10, 3, 32, 48)), 2, r"look stored channels first"),
        (np.zeros((4, 3, 32, 32)), 2, r"look stored channels first; convert them .* with X.transpose\(0, 2, 3, 1\)"),
        (np.zeros((4, 1, 28, 28)), 2, r"look stored channels first"),
        (np.zeros((2, 28, 28, 1)), -1, r"max_shift must be a whole number of pixels, 0 or more, got -1"),
        (np.zeros((2, 28, 28, 1)), 1.5, r"got 1.5"),
        (np.zeros((2, 28, 28, 1)), True, r"got True"),
        (np.zeros((2, 4, 9, 1)), 4, r"max_shift 4 would move 4x9 images out of view; give a max_shift below 4"),
    ],
)
def test_shift_rejects_bad_arguments(images, max_shift, message):
    with pytest.raises(ValueError, match=message):
        nl.random_shift(images, max_shift=max_shift)


def small_image_classifier():
    return nl.NeuralNetwork([nl.Flatten(), nl.FullyConnectedLayer(16, 2), nl.Softmax()])


def test_train_augments_training_batches_only():
    rng = np.random.default_rng(0)
    X = rng.random((20, 4, 4, 1)).astype(np.float32)
    y = rng.integers(0, 2, 20)
    training_batches = []

    def record(x_batch):
        training_batches.append(x_batch.copy())
        return x_batch + 1

    nl.seed(5)
    model = small_image_classifier()
    history = nl.train(model, nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1), X, y, X, y, n_epochs=2, batchsize=8,
                       progress=False, verbose=False, augment=record)
    assert len(training_batches) == 6  # 3 batches per epoch; the validation batches are not augmented
    assert sum(len(batch) for batch in training_batches) == 40

    # The same run by hand, with the augmented inputs, ends with the same weights.
    nl.seed(5)
    reference = small_image_classifier()
    optimizer = nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1)
    for _ in range(2):
        for x_batch, y_batch in nl.batch_handler(X, y, batchsize=8, shuffle=True):
            optimizer.step(reference, x_batch + 1, y_batch)
    np.testing.assert_array_equal(model.layers[1].params["W"], reference.layers[1].params["W"])
    assert len(history["loss_valid"]) == 2


def test_train_gives_augment_a_copy():
    X, y = np.zeros((8, 4, 4, 1), dtype=np.float32), np.zeros(8, dtype=np.int64)

    def add_in_place(x_batch):
        x_batch += 1
        return x_batch

    nl.train(small_image_classifier(), nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1), X, y, n_epochs=2, batchsize=4,
             shuffle=False, progress=False, verbose=False, augment=add_in_place)
    assert not X.any()  # unshuffled batches are views of X, but augment changed only copies


def test_train_rejects_bad_augment():
    X, y = np.zeros((4, 4, 4, 1), dtype=np.float32), np.zeros(4, dtype=np.int64)
    optimizer = nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1)
    with pytest.raises(TypeError, match=r"augment must be a function of a batch of inputs, such as nl.random_shift"):
        nl.train(small_image_classifier(), optimizer, X, y, n_epochs=1, progress=False, verbose=False, augment=2)
    with pytest.raises(ValueError, match=r"augment='<lambda>' turned a batch of shape \(4, 4, 4, 1\) into \(4, 16\)"):
        nl.train(small_image_classifier(), optimizer, X, y, n_epochs=1, progress=False, verbose=False,
                 augment=lambda x: x.reshape(len(x), -1))
    with pytest.raises(ValueError, match=r"augment='forgets_return' returned None; end it with 'return'"):
        nl.train(small_image_classifier(), optimizer, X, y, n_epochs=1, progress=False, verbose=False,
                 augment=forgets_return)
    with pytest.raises(ValueError, match=r"returned a tuple that is not one array \(parts of different shapes\); it must return only the batch"):
        nl.train(small_image_classifier(), optimizer, X, y, n_epochs=1, progress=False, verbose=False,
                 augment=lambda x: (x, np.zeros(len(x))))
    with pytest.raises(ValueError, match=r"turned a batch of finite inputs into one with NaN or infinite values"):
        nl.train(small_image_classifier(), optimizer, X, y, n_epochs=1, progress=False, verbose=False,
                 augment=lambda x: x + np.nan)


def forgets_return(x_batch):
    x_batch += 1
