"""batch_handler: coverage, the last partial batch, shuffling and seeds."""

import numpy as np
import pytest

import netlite as nl


def test_covers_every_sample_with_partial_last_batch():
    X = np.arange(10).reshape(10, 1)
    y = np.arange(10)
    batches = list(nl.batch_handler(X, y, batchsize=4))
    assert [len(x_batch) for x_batch, _ in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([y_batch for _, y_batch in batches]), y)


def test_drop_last():
    batches = list(nl.batch_handler(np.zeros((10, 1)), np.zeros(10), batchsize=4, drop_last=True))
    assert [len(x_batch) for x_batch, _ in batches] == [4, 4]


def test_shuffle_keeps_pairs_together_and_is_a_permutation():
    X = np.arange(20).reshape(20, 1) * 10
    y = np.arange(20)
    seen = []
    for x_batch, y_batch in nl.batch_handler(X, y, batchsize=6, shuffle=True):
        np.testing.assert_array_equal(x_batch[:, 0], y_batch * 10)
        seen.extend(y_batch.tolist())
    assert sorted(seen) == list(range(20))
    assert seen != list(range(20))


def test_shuffle_reproducible_with_seed():
    y = np.arange(50)
    nl.seed(3)
    first = [b.tolist() for _, b in nl.batch_handler(y, y, batchsize=7, shuffle=True)]
    nl.seed(3)
    second = [b.tolist() for _, b in nl.batch_handler(y, y, batchsize=7, shuffle=True)]
    assert first == second


def test_length_mismatch():
    with pytest.raises(ValueError, match="got 5 inputs and 4 targets"):
        list(nl.batch_handler(np.zeros(5), np.zeros(4), batchsize=2))


@pytest.mark.parametrize("batchsize", [0, -3, 2.5])
def test_invalid_batchsize(batchsize):
    with pytest.raises(ValueError, match="batchsize must be a positive integer"):
        list(nl.batch_handler(np.zeros(5), np.zeros(5), batchsize=batchsize))


def test_lists_can_be_shuffled():
    X = [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4]]
    y = [0, 1, 2, 3, 4]
    batches = list(nl.batch_handler(X, y, batchsize=2, shuffle=True, rng=np.random.default_rng(0)))
    seen = [label for _, y_batch in batches for label in y_batch]
    assert sorted(seen) == y
    for x_batch, y_batch in batches:
        assert [sample[0] for sample in x_batch] == y_batch


def test_ragged_lists_are_batched_with_and_without_shuffling():
    X = [[1], [1, 2], [3]]
    y = [0, 1, 2]
    assert list(nl.batch_handler(X, y, batchsize=2)) == [([[1], [1, 2]], [0, 1]), ([[3]], [2])]
    shuffled = list(nl.batch_handler(X, y, batchsize=2, shuffle=True, rng=np.random.default_rng(0)))
    assert sorted(label for _, y_batch in shuffled for label in y_batch) == y


def test_batchsize_true_is_rejected():
    with pytest.raises(ValueError, match="batchsize must be a positive integer, got True"):
        list(nl.batch_handler(np.zeros((3, 1)), np.zeros(3), batchsize=True))


def test_tuples_give_tuple_batches_with_and_without_shuffling():
    X = ((0, 0), (1, 1), (2, 2))
    y = (0, 1, 2)
    for shuffle in (False, True):
        for x_batch, y_batch in nl.batch_handler(X, y, batchsize=2, shuffle=shuffle, rng=np.random.default_rng(0)):
            assert type(x_batch) is tuple
            assert type(y_batch) is tuple
