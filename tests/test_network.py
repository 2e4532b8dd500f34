"""NeuralNetwork: forward/backward bookkeeping, summary, modes, save and load."""

import json
import os
import re
import threading
import warnings
import zipfile

import numpy as np
import pytest

import netlite as nl


def save_with_umask(model, path, umask):
    """Save ``model`` to ``path`` while the process's umask is ``umask``."""
    previous = os.umask(umask)
    try:
        model.save(path)
    finally:
        os.umask(previous)


def small_model():
    return nl.NeuralNetwork(
        [
            nl.ConvolutionalLayer(3, 1, 2),
            nl.ReLU(),
            nl.MaxPoolingLayer(),
            nl.BatchNorm(2),
            nl.Flatten(),
            nl.FullyConnectedLayer(8, 3),
            nl.Dropout(0.2),
            nl.Softmax(),
        ]
    )


def test_summary_lists_shapes_and_parameters():
    model = small_model()
    text = model.summary(input_shape=(6, 6, 1))
    assert "ConvolutionalLayer(3x3, 1 -> 2)" in text
    assert "(batch, 4, 4, 2)" in text
    assert "(batch, 2, 2, 2)" in text
    assert "(batch, 8)" in text
    assert "(batch, 3)" in text
    conv_params = 3 * 3 * 1 * 2 + 2
    total = conv_params + 2 * 2 + 8 * 3 + 3
    assert f"total parameters: {total}" in text
    assert model.n_params == total


@pytest.mark.parametrize(
    "input_shape, problem",
    [
        ((28, 28, 1), "layer 7, FullyConnectedLayer(400 -> 120), cannot take samples of shape (256,): expected samples of shape (400,)"),
        ((1, 32, 32), "layer 0, ConvolutionalLayer(5x5, 1 -> 6), cannot take samples of shape (1, 32, 32): expected samples of shape (height, width, 1)"),
        ((32, 32, 3), "layer 0, ConvolutionalLayer(5x5, 1 -> 6), cannot take samples of shape (32, 32, 3)"),
        ((8, 8, 1), "layer 3, ConvolutionalLayer(5x5, 6 -> 16), cannot take samples of shape (2, 2, 6): expected images of at least 5x5 pixels"),
        ((5, 5, 1), "layer 2, AvgPoolingLayer(), cannot take samples of shape (1, 1, 6): expected samples of shape (height, width, channels), at least 2x2 pixels"),
    ],
)
def test_summary_names_failing_layer(input_shape, problem):
    text = nl.models.lenet5().summary(input_shape=input_shape)
    lines = text.splitlines()
    assert lines[-1].startswith(problem)
    failing_row = next(line for line in lines if line.startswith(problem.split(",")[0].removeprefix("layer ") + " "))
    assert " ? " in failing_row  # no made-up output shape for the layer that failed
    assert not re.search(r"\(batch,[^)]*-\d", text)  # no negative sizes


def test_summary_of_layer_without_output_shape():
    class Doubling(nl.Layer):
        def forward(self, X):
            return 2 * X

        def output_shape(self, input_shape):
            raise NotImplementedError

    model = nl.NeuralNetwork([Doubling(), nl.FullyConnectedLayer(3, 2)])
    rows = model.summary(input_shape=(3,)).splitlines()
    assert rows[2].split()[2] == "?"
    assert "(batch, 2)" in rows[3]


def test_summary_without_input_shape_uses_known_sizes():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(400, 120), nl.ReLU(), nl.FullyConnectedLayer(120, 10)])
    text = model.summary()
    assert "(batch, 120)" in text
    assert "(batch, 10)" in text
    assert "48,120" in text  # 400 * 120 + 120


def test_add_layer_and_type_check():
    model = nl.NeuralNetwork()
    model.add_layer(nl.FullyConnectedLayer(2, 2))
    assert len(model) == 1
    with pytest.raises(TypeError, match="did you forget the parentheses"):
        model.add_layer(nl.ReLU)


def test_loss_among_layers_is_named():
    with pytest.raises(TypeError, match=r"MseLoss\(\) is a loss, not a layer; .* the loss goes to the optimizer"):
        nl.NeuralNetwork([nl.FullyConnectedLayer(2, 2), nl.MseLoss()])


def test_forward_with_labels_is_named():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 2)])
    with pytest.raises(TypeError, match=r"logits must be True or False, got ndarray; forward\(\) takes only"):
        model.forward(np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(TypeError, match=r"logits must be True or False, got 1 of type int64; forward\(\) takes only"):
        model.forward(np.zeros((1, 2)), np.arange(3)[1])  # one sample's label
    with pytest.raises(TypeError, match=r"logits must be True or False, got 2 of type int; forward\(\) takes only"):
        model.forward(np.zeros((1, 2)), [0, 1, 2][2])
    with pytest.raises(TypeError, match=r"logits must be True or False, got list"):
        model.forward(np.zeros((2, 2)), [[1, 2], [3]])


def test_forward_labels_advice_gives_loss():
    # The advice must hold for a network that ends in Softmax, which CrossEntropyLoss skips.
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 3), nl.Softmax()])
    loss = nl.CrossEntropyLoss()
    X, y = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([2, 0])
    with pytest.raises(TypeError) as info:
        model.forward(X, y)
    advice = str(info.value).rsplit("the labels go to the loss: ", 1)[1]

    followed = eval(advice, {"loss": loss, "model": model, "X": X, "y": y})

    assert followed == loss.forward(model.forward(X, logits=True), y)


@pytest.mark.parametrize("logits", [None, 1, 0, True, np.True_])
def test_forward_accepts_truth_values(logits):
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 3), nl.Softmax()])
    output = model.forward(np.ones((4, 2), dtype=np.float32), logits)
    assert output.shape == (4, 3)
    assert np.allclose(output.sum(axis=1), 1) != bool(logits)  # logits skip the final Softmax


def test_first_convolution_skips_input_gradient():
    model = small_model()
    assert model.layers[0].compute_input_grad is False
    X = np.random.default_rng(0).standard_normal((2, 6, 6, 1)).astype(np.float32)
    output = model.forward(X, logits=True)
    assert output.shape == (2, 3)
    assert model.backward(np.ones_like(output)) is None


def test_forward_logits_skips_only_final_softmax():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 4), nl.Softmax()])
    X = np.ones((2, 3), dtype=np.float32)
    probabilities = model.forward(X)
    logits = model.forward(X, logits=True)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(nl.Softmax().forward(logits), probabilities, rtol=1e-6)


def test_backward_before_forward():
    with pytest.raises(RuntimeError, match="NeuralNetwork: backward\\(\\) called before forward"):
        nl.NeuralNetwork([nl.ReLU()]).backward(np.ones((1, 1)))


def test_train_and_eval_modes():
    model = small_model()
    model.eval()
    assert not any(layer.training for layer in model.layers)
    model.train()
    assert all(layer.training for layer in model.layers)


def test_predict_restores_training_mode_and_covers_all_samples():
    model = small_model()
    X = np.random.default_rng(1).standard_normal((7, 6, 6, 1)).astype(np.float32)
    probabilities = model.predict(X, batchsize=3)
    assert probabilities.shape == (7, 3)
    assert model.is_training


def test_predict_matches_forward_batch_by_batch():
    model = small_model()
    X = np.random.default_rng(3).standard_normal((7, 6, 6, 1)).astype(np.float32)
    model.eval()
    expected = np.concatenate([model.forward(X[:3]), model.forward(X[3:6]), model.forward(X[6:])])
    model.train()
    np.testing.assert_array_equal(model.predict(X, batchsize=3), expected)


def test_predict_drops_layer_caches():
    model = small_model()
    X = np.random.default_rng(3).standard_normal((7, 6, 6, 1)).astype(np.float32)
    model.predict(X, batchsize=3)
    assert [layer.cache for layer in model.layers] == [None] * len(model.layers)
    with pytest.raises(RuntimeError, match=r"backward\(\) called after predict\(\), which keeps nothing"):
        model.backward(np.ones((1, 3), dtype=np.float32))

    # forward() after predict() keeps its caches again, so backward() works.
    model.forward(X[:2], logits=True)
    grad_input = model.backward(np.ones((2, 3), dtype=np.float32))
    assert grad_input is None  # the first layer skips its input gradient
    assert all(np.all(np.isfinite(grad)) for layer in model.layers for grad in layer.grads.values())

    model.predict(X)
    with pytest.raises(RuntimeError, match=r"ReLU\(\): backward\(\) called before forward\(\), after NeuralNetwork.predict\(\)"):
        model.layers[1].backward(np.ones((7, 4, 4, 2), dtype=np.float32))


def test_predict_keeps_caches_of_own_layers():
    class DictCache(nl.Layer):
        """A student's layer that fills a dict made in __init__."""

        def __init__(self):
            super().__init__()
            self.cache = {}

        def forward(self, X):
            self.cache["X"] = X
            return X

        def backward(self, grad_output):
            return grad_output

    model = nl.NeuralNetwork([nl.FullyConnectedLayer(4, 3), DictCache(), nl.FullyConnectedLayer(3, 2)])
    X = np.random.default_rng(4).standard_normal((9, 4)).astype(np.float32)
    expected = model.forward(X)
    np.testing.assert_allclose(model.predict(X, batchsize=4), expected, rtol=1e-6)
    assert model.layers[1].cache["X"].shape == (1, 3)  # the last batch of 9 at batchsize 4
    assert model.layers[0].cache is None


def test_predict_drops_netlite_subclass_cache():
    class PlainDense(nl.FullyConnectedLayer):
        """A subclass that keeps netlite's forward()."""

    class LoggingDense(nl.FullyConnectedLayer):
        """A subclass with a forward() of its own."""

        def forward(self, X):
            return super().forward(X)

    model = nl.NeuralNetwork([PlainDense(4, 3), LoggingDense(3, 2)])
    model.predict(np.ones((5, 4), dtype=np.float32), batchsize=2)
    assert model.layers[0].cache is None
    assert model.layers[1].cache.shape == (1, 3)


def test_predict_with_layer_made_by_exec():
    namespace = {}
    # Classes made by exec() with fresh globals have methods whose __module__ is None.
    exec("import netlite as nl\nclass Own(nl.Layer):\n    def forward(self, X):\n        return X\n", namespace)
    assert namespace["Own"].forward.__module__ is None
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(4, 3), namespace["Own"]()])
    assert model.predict(np.ones((5, 4), dtype=np.float32), batchsize=2).shape == (5, 3)


def test_save_load_round_trip(tmp_path):
    model = small_model()
    X = np.random.default_rng(2).standard_normal((4, 6, 6, 1)).astype(np.float32)
    optimizer = nl.OptimizerADAM(nl.CrossEntropyLoss(), 0.01)
    for _ in range(3):
        optimizer.step(model, X, np.array([0, 1, 2, 0]))
    model.eval()
    expected = model.forward(X)

    path = tmp_path / "model.npz"
    model.save(path)
    nl.seed(99)
    copy = small_model().load(path).eval()

    np.testing.assert_array_equal(copy.forward(X), expected)
    np.testing.assert_array_equal(copy.layers[3].buffers["running_mean"], model.layers[3].buffers["running_mean"])
    assert copy.layers[0].params["W"].dtype == np.float32


def test_save_keeps_the_given_file_name(tmp_path):
    path = tmp_path / "weights.netlite"
    small_model().save(path)
    assert path.exists()
    assert sorted(os.listdir(tmp_path)) == ["weights.netlite"]


def test_saved_file_contains_no_pickle(tmp_path):
    path = tmp_path / "model.npz"
    small_model().save(path)
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            header = archive.read(name)[:128]
            assert b"'descr': '|O'" not in header, f"{name} is an object (pickled) array"
    with np.load(path, allow_pickle=False) as archive:
        assert len(archive.files) > 1


def test_load_rejects_pickled_file(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __netlite__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="evil.npz: not a NetLite model file"):
        small_model().load(path)


def test_load_rejects_other_architecture(tmp_path):
    path = tmp_path / "model.npz"
    small_model().save(path)
    other = nl.NeuralNetwork([nl.FullyConnectedLayer(8, 3)])
    with pytest.raises(ValueError, match="the file contains 8 layers, this network has 1"):
        other.load(path)


def test_load_rejects_other_layer_size(tmp_path):
    path = tmp_path / "model.npz"
    nl.NeuralNetwork([nl.FullyConnectedLayer(8, 3)]).save(path)
    other = nl.NeuralNetwork([nl.FullyConnectedLayer(8, 4)])
    weights_before = other.layers[0].params["W"].copy()
    with pytest.raises(ValueError, match=r"'W' has shape \(8, 3\) in the file, expected \(8, 4\)"):
        other.load(path)
    np.testing.assert_array_equal(other.layers[0].params["W"], weights_before)


def test_load_rejects_other_layer_type(tmp_path):
    path = tmp_path / "model.npz"
    nl.NeuralNetwork([nl.ReLU()]).save(path)
    with pytest.raises(ValueError, match="layer 0 is ReLU\\(\\) \\(type ReLU\\) in the file but Sigmoid\\(\\) \\(type Sigmoid\\) in this"):
        nl.NeuralNetwork([nl.Sigmoid()]).load(path)


def test_load_rejects_non_zip_and_truncated_file(tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a model")
    with pytest.raises(ValueError, match="notes.txt: not a NetLite model file"):
        small_model().load(text_file)

    good = tmp_path / "model.npz"
    small_model().save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"truncated.npz: the file is damaged or cut short, or a zip archive that no model"):
        small_model().load(truncated)

    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.npz: not a NetLite model file \(the file is empty\)"):
        small_model().load(empty)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        small_model().load(tmp_path / "missing.npz")


@pytest.mark.parametrize(
    "failure, message",
    [
        (KeyboardInterrupt(), None),
        (OSError(28, "No space left on device"), r"model.npz: saving failed \(No space left on device\); any earlier file"),
    ],
)
def test_failed_save_keeps_old_file(tmp_path, monkeypatch, failure, message):
    path = tmp_path / "model.npz"
    model = small_model()
    model.save(path)
    original_bytes = path.read_bytes()

    def fail_midway(file, **arrays):
        file.write(b"partial")
        raise failure

    monkeypatch.setattr(np, "savez", fail_midway)
    with pytest.raises(type(failure), match=message):
        model.save(path)
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]
    assert path.read_bytes() == original_bytes


def test_model_is_reproducible_with_seed():
    nl.seed(5)
    first = small_model().layers[0].params["W"].copy()
    nl.seed(5)
    second = small_model().layers[0].params["W"].copy()
    np.testing.assert_array_equal(first, second)


def test_load_rejects_npy_file(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match="weights.npy: not a NetLite model file"):
        small_model().load(path)


def test_load_error_does_not_suggest_unpickling(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __netlite__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError) as error:
        small_model().load(path)
    assert "allow_pickle" not in str(error.value)


@pytest.mark.parametrize("description", ["{not json", "[1, 2]", '{"format": "netlite-model", "version": 1}'])
def test_load_rejects_broken_description(tmp_path, description):
    path = tmp_path / "broken.npz"
    np.savez(path, __netlite__=np.array(description))
    with pytest.raises(ValueError, match="broken.npz: the model description"):
        small_model().load(path)


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        small_model().save(tmp_path / "missing" / "model.npz")


def test_saved_file_is_readable_by_others(tmp_path):
    path = tmp_path / "model.npz"
    save_with_umask(small_model(), path, 0o022)
    assert path.stat().st_mode & 0o777 == 0o644


def test_save_over_private_file_keeps_it_private(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    path.chmod(0o600)
    model = small_model()
    model.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    np.testing.assert_array_equal(small_model().load(path)[0].params["W"], model[0].params["W"])


def test_predict_rejects_empty_input():
    with pytest.raises(ValueError, match="expected at least one sample"):
        small_model().predict(np.zeros((0, 6, 6, 1), dtype=np.float32))


def test_uint8_images_warn_once():
    model = nl.NeuralNetwork([nl.Flatten(), nl.FullyConnectedLayer(4, 2)])
    images = np.full((3, 2, 2, 1), 200, dtype=np.uint8)

    with pytest.warns(UserWarning, match=r"uint8 with values up to 200.*divide by 255"):
        model.forward(images)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.forward(images)  # a second time: no warning
        model.forward(images.astype(np.float32) / 255)


def test_binary_uint8_input_does_not_warn():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 1)])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.forward(np.array([[0, 1], [1, 1]], dtype=np.uint8))


@pytest.mark.parametrize("last_layer", [nl.Sigmoid(), nl.Tanh(), nl.ReLU()])
def test_squashing_last_layer_with_logit_loss_warns(last_layer):
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 4), last_layer])
    optimizer = nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1)
    X = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)

    with pytest.warns(UserWarning, match=rf"expects logits.*ends with {type(last_layer).__name__}"):
        optimizer.step(model, X, np.arange(5) % 4)


def test_warning_points_at_callers_line():
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 4), nl.Sigmoid()])
    optimizer = nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1)
    X = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)

    with pytest.warns(UserWarning, match="expects logits") as caught:
        optimizer.step(model, X, np.arange(5) % 4)

    assert caught[0].filename == __file__


@pytest.mark.parametrize("hidden", [nl.ReLU(), nl.Sigmoid()])
def test_softmax_last_layer_with_logit_loss_is_quiet(hidden):
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 4), hidden, nl.Softmax()])
    optimizer = nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1)
    X = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizer.step(model, X, np.arange(5) % 4)


def test_input_grad_choice_survives_add_layer():
    model = nl.NeuralNetwork([nl.ConvolutionalLayer(3, 1, 2)])
    assert model.layers[0].compute_input_grad is False

    model.layers[0].compute_input_grad = True
    model.add_layer(nl.Flatten())

    assert model.layers[0].compute_input_grad is True


@pytest.mark.parametrize(
    "saved_layer, other_layer",
    [
        (nl.LeakyReLU(alpha=0.2), nl.LeakyReLU(alpha=0.01)),
        (nl.Dropout(0.3), nl.Dropout(0.5)),
        (nl.BatchNorm(3, momentum=0.2), nl.BatchNorm(3)),
        (nl.BatchNorm(3), nl.BatchNorm(3, eps=1e-3)),
    ],
)
def test_load_rejects_other_layer_settings(tmp_path, saved_layer, other_layer):
    path = tmp_path / "model.npz"
    nl.NeuralNetwork([nl.FullyConnectedLayer(2, 3), saved_layer]).save(path)
    other = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 3), other_layer])
    weights_before = other.layers[0].params["W"].copy()
    with pytest.raises(ValueError, match="create the layer with the saved settings") as caught:
        other.load(path)
    assert f"layer 1 is {saved_layer!r} in the file but {other_layer!r} in this network" in str(caught.value)
    np.testing.assert_array_equal(other.layers[0].params["W"], weights_before)


def test_load_rejects_damaged_layer_entry(tmp_path):
    path = tmp_path / "broken.npz"
    description = {"format": "netlite-model", "version": 2, "layers": [7]}
    np.savez(path, __netlite__=np.array(json.dumps(description)))
    with pytest.raises(ValueError, match="the description of layer 0 is damaged"):
        small_model().load(path)


def test_save_to_missing_folder_name(tmp_path):
    with pytest.raises(FileNotFoundError, match="new/: names a folder, which does not exist; create it first") as caught:
        small_model().save(f"{tmp_path}/new/")
    assert f"{tmp_path}/new/model.npz" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_save_below_a_file(tmp_path):
    (tmp_path / "afile.npz").write_bytes(b"data")
    with pytest.raises(NotADirectoryError, match=r"afile.npz/: names a folder, but .*afile.npz is a file, not a folder; to replace"):
        small_model().save(f"{tmp_path}/afile.npz/")
    for below in ("model.npz", "sub/model.npz", "sub/"):
        with pytest.raises(NotADirectoryError, match=r": .*afile.npz is a file, not a folder; save into a folder"):
            small_model().save(f"{tmp_path}/afile.npz/{below}")
    assert (tmp_path / "afile.npz").read_bytes() == b"data"


def assert_saves_and_loads(path):
    """Save a small model to ``path``, load it back into another one and compare a weight; return the model."""
    model = small_model()
    model.save(path)
    np.testing.assert_array_equal(small_model().load(path).layers[0].params["W"], model.layers[0].params["W"])
    return model


def test_tilde_file_name_is_literal(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_saves_and_loads("~model.npz")
    assert (tmp_path / "~model.npz").is_file()


def test_folder_named_tilde_is_used(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "~").mkdir()
    small_model().save("~/model.npz")
    assert (tmp_path / "~" / "model.npz").is_file()


def test_load_rejects_pipe(tmp_path):
    path = tmp_path / "pipe.npz"
    os.mkfifo(path)

    done = threading.Event()

    def open_writing_end():  # lets a load() that opened the pipe go on, so that the test fails instead of hanging
        while not done.wait(0.5):  # until the test ends, because load() might open the pipe more than once
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # no reader is waiting
                pass

    unblocker = threading.Thread(target=open_writing_end)
    unblocker.start()
    try:
        with pytest.raises(ValueError, match=r"pipe.npz: is not a regular file \(a device, a pipe or a socket\)"):
            small_model().load(path)
    finally:
        done.set()
        unblocker.join()


def test_save_into_pipe_name_with_slash(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(NotADirectoryError, match=r"pipe/: names a folder, but .*pipe exists and is not one; choose another"):
        small_model().save(f"{tmp_path}/pipe/")


def test_home_folder_expanded(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    model = assert_saves_and_loads("~/model.npz")
    assert (home / "model.npz").is_file()
    with pytest.raises(IsADirectoryError, match=rf"^{re.escape(str(home))}/: is a folder; give a file name"):
        model.save("~/")
    with pytest.raises(FileNotFoundError, match=rf"the folder {re.escape(str(home / 'missing'))} does not exist"):
        model.save("~/missing/model.npz")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["home"]


def test_file_named_tilde_does_not_block_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    small_model().save("~")
    small_model().save("~/model.npz")
    assert (tmp_path / "~").is_file()
    assert (home / "model.npz").is_file()


def test_unknown_home_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for method in ("save", "load"):
        with pytest.raises(FileNotFoundError, match=r"^~nosuchuser12345/m.npz: the home folder '~nosuchuser12345' is not known here"):
            getattr(small_model(), method)("~nosuchuser12345/m.npz")
    # os.path.expanduser() turns '~' into '/' when HOME is empty, which would save at the top of the disk.
    monkeypatch.setenv("HOME", "")
    with pytest.raises(FileNotFoundError, match=r"^~/m.npz: the home folder '~' is not known here"):
        small_model().save("~/m.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["~", "~root"])
def test_tilde_user_name_is_file(tmp_path, monkeypatch, name):
    # Without a separator after it, '~root' is a file name here, although a user root exists.
    monkeypatch.chdir(tmp_path)
    small_model().save(name)
    assert (tmp_path / name).is_file()
    small_model().load(name)


def test_network_astype_checks_dtype_once():
    model = nl.NeuralNetwork([nl.Flatten(), nl.FullyConnectedLayer(4, 2)])
    with pytest.raises(TypeError, match=r"^NeuralNetwork.astype: dtype must be np.float32 or np.float64, got float16"):
        model.astype(np.float16)
    assert model.layers[1].params["W"].dtype == np.float32


@pytest.mark.parametrize("method", ["save", "load"])
def test_empty_model_path(method):
    with pytest.raises(ValueError, match=rf"^NeuralNetwork.{method}: got an empty path; give "):
        getattr(small_model(), method)("")


def test_save_and_load_bytes_path(tmp_path):
    model, path = small_model(), os.fsencode(tmp_path / "model.npz")
    model.save(path)
    copy = small_model()
    assert not np.array_equal(copy.layers[0].params["W"], model.layers[0].params["W"])
    copy.load(path)
    np.testing.assert_array_equal(copy.layers[0].params["W"], model.layers[0].params["W"])


def test_save_to_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder; give a file name") as caught:
        small_model().save(tmp_path)
    assert str(tmp_path / "model.npz") in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_same_layer_object_twice_is_rejected():
    shared = nl.Tanh()
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 2), shared])
    with pytest.raises(ValueError, match=r"this Tanh\(\) object is already layer 1 of the network"):
        model.add_layer(shared)
    assert len(model.layers) == 2
    with pytest.raises(ValueError, match="a layer object can appear only once"):
        nl.NeuralNetwork([shared, nl.FullyConnectedLayer(2, 2), shared])


def test_load_reads_version_1_file_by_layer_types(tmp_path):
    """Version 1 files did not describe BatchNorm's settings, so only the layer types are compared."""
    path = tmp_path / "old.npz"
    nl.seed(0)
    saved = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 4), nl.BatchNorm(4)])
    saved.save(path)
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    description = json.loads(str(arrays["__netlite__"]))
    description["version"] = 1
    arrays["__netlite__"] = np.array(json.dumps(description))
    np.savez(path, **arrays)

    other = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 4), nl.BatchNorm(4, momentum=0.2)]).load(path)
    np.testing.assert_array_equal(other.layers[0].params["W"], saved.layers[0].params["W"])
    description["version"] = 3
    arrays["__netlite__"] = np.array(json.dumps(description))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="unsupported model format 'netlite-model' version 3, expected"):
        other.load(path)


def test_load_compares_settings_by_value(tmp_path):
    path = tmp_path / "model.npz"
    nl.NeuralNetwork([nl.FullyConnectedLayer(2, 2), nl.LeakyReLU(alpha=0), nl.Dropout(p=0)]).save(path)
    other = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 2), nl.LeakyReLU(alpha=0.0), nl.Dropout(p=np.float64(0))])
    other.load(path)


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_load_rejects_version_that_is_not_an_integer(tmp_path, version):
    path = tmp_path / "model.npz"
    small_model().save(path)
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    description = json.loads(str(arrays["__netlite__"]))
    description["version"] = version
    arrays["__netlite__"] = np.array(json.dumps(description))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="unsupported model format"):
        small_model().load(path)


def test_backward_names_layer_that_returned_none():
    convolution = nl.ConvolutionalLayer(3, 1, 2)
    nl.NeuralNetwork([convolution, nl.Flatten(), nl.FullyConnectedLayer(18, 3)])  # sets compute_input_grad = False
    model = nl.NeuralNetwork([nl.BatchNorm(1), convolution, nl.Flatten(), nl.FullyConnectedLayer(18, 3)])
    optimizer = nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1)
    X = np.random.default_rng(0).random((4, 5, 5, 1))
    with pytest.raises(TypeError, match=r"backward\(\) of layer 1 \(ConvolutionalLayer.*\) returned None.*compute_input_grad = True"):
        optimizer.step(model, X, np.array([0, 1, 2, 0]))


def test_layer_without_base_init_is_rejected():
    class Scale(nl.Layer):
        def __init__(self):
            self.factor = 2.0  # no super().__init__()

    with pytest.raises(TypeError, match=r"the Scale has no params, grads, buffers, training, .*call super\(\).__init__\(\)"):
        nl.NeuralNetwork([Scale()])


@pytest.mark.parametrize("batchsize", [0, -1, 2.5, True, "32"])
def test_predict_rejects_bad_batchsize(batchsize):
    with pytest.raises(ValueError, match=rf"predict: batchsize must be a positive whole number, got {batchsize!r}"):
        nl.NeuralNetwork([nl.ReLU()]).predict(np.ones((3, 2)), batchsize=batchsize)


class Gain(nl.Layer):
    """A layer of a student's own: a learned gain with a '/' in its name, and an integer counter."""

    def __init__(self, value):
        super().__init__()
        self.params["scale/gain"] = np.full(2, float(value))
        self.grads["scale/gain"] = np.zeros(2)
        self.buffers["n_seen"] = np.array(value, dtype=np.int64)

    def forward(self, X):
        return X * self.params["scale/gain"]


def test_own_layer_round_trip(tmp_path):
    path = tmp_path / "model.npz"
    nl.NeuralNetwork([Gain(3)]).save(path)
    loaded = nl.NeuralNetwork([Gain(1)]).load(path)
    np.testing.assert_array_equal(loaded[0].params["scale/gain"], [3.0, 3.0])
    assert loaded[0].buffers["n_seen"] == 3
    assert loaded[0].buffers["n_seen"].dtype == np.int64


def test_load_rejects_float_array_for_integer_buffer(tmp_path):
    path = tmp_path / "model.npz"
    saved = nl.NeuralNetwork([Gain(3)])
    saved[0].buffers["n_seen"] = np.array(2.5)
    saved.save(path)
    with pytest.raises(ValueError, match=r"'n_seen' has dtype float64 in the file, expected an array like the layer's own int64"):
        nl.NeuralNetwork([Gain(1)]).load(path)


def test_save_into_unwritable_folder_names_the_path(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"

    def deny(**options):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", deny)
    with pytest.raises(PermissionError, match=rf"{path}: cannot write into the folder {tmp_path} \(Permission denied\)"):
        small_model().save(path)


def test_save_keeps_others_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    path.write_bytes(b"keep me")  # mode 0644: writable for its owner, here another user
    monkeypatch.setattr(os, "access", lambda checked, mode: os.fspath(checked) != os.fspath(path))
    with pytest.raises(PermissionError, match=rf"{path}: the file is write-protected or belongs to another user"):
        small_model().save(path)
    assert path.read_bytes() == b"keep me"


def test_save_keeps_write_protected_file(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"keep me")
    path.chmod(0o444)
    with pytest.raises(PermissionError, match=rf"{path}: the file is write-protected or belongs to another user"):
        small_model().save(path)
    assert path.read_bytes() == b"keep me"
    assert path.stat().st_mode & 0o777 == 0o444


@pytest.mark.parametrize(
    "bad_value, message",
    [
        (np.nan, r"the file contains NaN or infinite values in layer 0 'W'.*training diverged"),
        (np.inf, r"the file contains NaN or infinite values in layer 0 'W'.*training diverged"),
        (1e300, r"values too large for the layer's dtype became infinite in layer 0 'W' \(float64 to float32\)"),
    ],
)
def test_load_warns_about_values_that_are_not_finite(tmp_path, bad_value, message):
    path = tmp_path / "model.npz"
    saved = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 3)])
    saved[0].params["W"] = saved[0].params["W"].astype(np.float64)  # 1e300 fits float64, not float32
    saved[0].params["W"][1, 2] = bad_value
    saved.save(path)
    with pytest.warns(RuntimeWarning, match=message) as caught:
        nl.NeuralNetwork([nl.FullyConnectedLayer(2, 3)]).load(path)
    assert len(caught) == 1  # numpy's own overflow warning stays quiet


def test_load_rejects_integer_that_would_wrap(tmp_path):
    path = tmp_path / "model.npz"
    saved = nl.NeuralNetwork([Gain(3)])
    saved[0].buffers["n_seen"] = np.array(2**40 + 3, dtype=np.int64)
    saved.save(path)
    target = nl.NeuralNetwork([Gain(1)])
    target[0].buffers["n_seen"] = np.array(1, dtype=np.int32)
    with pytest.raises(ValueError, match=r"'n_seen' has values from 1099511627779 to 1099511627779 .* beyond the range of the layer's int32"):
        target.load(path)
    assert target[0].buffers["n_seen"] == 1


def test_layer_without_training_attribute_is_named():
    class Handmade(nl.Layer):
        def __init__(self):
            self.params, self.grads, self.buffers = {}, {}, {}

    with pytest.raises(TypeError, match=r"the Handmade has no training, which Layer.__init__ sets"):
        nl.NeuralNetwork([Handmade()])


def test_load_reports_nan_and_overflow_in_one_array(tmp_path):
    path = tmp_path / "model.npz"
    saved = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 3)])
    saved[0].params["W"] = saved[0].params["W"].astype(np.float64)
    saved[0].params["W"][0, 0] = np.nan
    saved[0].params["W"][1, 2] = 1e300
    saved.save(path)
    with pytest.warns(RuntimeWarning) as caught:
        nl.NeuralNetwork([nl.FullyConnectedLayer(2, 3)]).load(path)
    messages = [str(warning.message) for warning in caught]
    assert len(messages) == 2
    assert "NaN or infinite values in layer 0 'W'" in messages[0]
    assert "became infinite in layer 0 'W'" in messages[1]


def test_astype_keeps_integer_buffers():
    layer = Gain(3)
    layer.astype(np.float64)
    assert layer.params["scale/gain"].dtype == np.float64
    assert layer.buffers["n_seen"].dtype == np.int64


def test_load_into_float64_network_keeps_integer_buffer(tmp_path):
    path = tmp_path / "model.npz"
    nl.NeuralNetwork([Gain(3)]).save(path)
    loaded = nl.NeuralNetwork([Gain(1)]).astype(np.float64).load(path)
    assert loaded[0].buffers["n_seen"] == 3
    assert loaded[0].buffers["n_seen"].dtype == np.int64


def test_save_over_file_keeps_its_owner_and_group(tmp_path):
    # Root may give a file any owner and group; another user keeps their own. The folder is the
    # owner's, as a home folder is.
    owner, group = (65534, 65534) if os.getuid() == 0 else (os.getuid(), os.getgid())
    os.chown(tmp_path, owner, group)
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    os.chown(path, owner, group)
    path.chmod(0o600)
    small_model().save(path)
    assert path.stat().st_uid == owner
    assert path.stat().st_gid == group
    assert path.stat().st_mode & 0o777 == 0o600


def test_load_folder_is_not_called_a_damaged_model(tmp_path):
    with pytest.raises(IsADirectoryError):
        small_model().load(tmp_path)


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a file to any group")
def test_save_group_fallback(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    os.chown(path, -1, 65534)  # a group that the new file will not be in
    path.chmod(0o640)

    def not_permitted(*arguments):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", not_permitted)
    small_model().save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    small_model().save(path)
    assert path.stat().st_mode & 0o777 == 0o644  # the new group gets what everyone else had


def test_save_keeps_same_group_bits(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    path.chmod(0o660)

    def not_permitted(*arguments):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", not_permitted)  # the new file is in the saver's group, as the old one
    small_model().save(path)
    assert path.stat().st_mode & 0o777 == 0o660


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a file to another owner")
def test_save_owner_set_on_open_file(tmp_path, monkeypatch):
    os.chown(tmp_path, 65534, 65534)  # a user's folder, so that root keeps the user's ownership
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    os.chown(path, 65534, 65534)
    victim = tmp_path / "victim"
    victim.write_bytes(b"secret")
    victim.chmod(0o600)
    real_savez = np.savez

    def savez_then_swap(file, **arrays):
        # What another user could do in a shared folder: replace the temporary file by a link.
        real_savez(file, **arrays)
        temporary = tmp_path / [name for name in os.listdir(tmp_path) if name.endswith(".part")][0]
        temporary.rename(tmp_path / "moved-away")
        temporary.symlink_to(victim)

    monkeypatch.setattr(np, "savez", savez_then_swap)
    small_model().save(path)
    assert victim.stat().st_uid == 0
    assert victim.stat().st_mode & 0o777 == 0o600
    assert victim.read_bytes() == b"secret"


def test_load_passes_on_errors_of_the_operating_system(tmp_path):
    (tmp_path / "file.npz").write_bytes(b"x")
    with pytest.raises(NotADirectoryError):
        small_model().load(tmp_path / "file.npz" / "inner.npz")
    with pytest.raises(OSError, match="File name too long"):
        small_model().load(tmp_path / ("m" * 300 + ".npz"))


@pytest.mark.skipif(os.getuid() != 0, reason="only root can create another user's file here")
def test_save_ignores_planted_file(tmp_path):
    # tmp_path belongs to root; another user put a world-writable file under the model's name.
    path = tmp_path / "model.npz"
    path.write_bytes(b"planted")
    os.chown(path, 65534, 65534)
    path.chmod(0o666)
    save_with_umask(small_model(), path, 0o022)
    assert path.stat().st_uid == 0
    assert path.stat().st_mode & 0o777 == 0o644


def test_save_rejects_pipe(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    with pytest.raises(FileExistsError, match=r"pipe: exists and is not a regular file"):
        small_model().save(path)
    assert not path.is_file()


def _flip_directory_offset(data):
    data[-5] ^= 0xFF  # the second-lowest byte of the zip's central-directory offset


def _unknown_compression_method(data):
    directory = data.rindex(b"PK\x01\x02")  # the last entry of the zip's central directory
    data[directory + 10] ^= 0x01  # its compression method, now one that zipfile does not know


def _offset_outside_file(data):
    data[-3] = 0x80  # the zip directory's offset, near the end, now points far outside the file


@pytest.mark.parametrize("damage", [_flip_directory_offset, _unknown_compression_method, _offset_outside_file])
def test_load_names_damaged_zip(tmp_path, damage):
    path = tmp_path / "model.npz"
    small_model().save(path)
    data = bytearray(path.read_bytes())
    damage(data)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model.npz: the file is damaged or cut short"):
        small_model().load(path)


def test_save_through_own_link_keeps_the_target_private(tmp_path):
    target = tmp_path / "v3.npz"
    small_model().save(target)
    target.chmod(0o600)
    link = tmp_path / "current.npz"
    link.symlink_to("v3.npz")
    small_model().save(link)
    assert link.stat().st_mode & 0o777 == 0o600


def test_save_over_hard_link_passes_nothing_on(tmp_path):
    other = tmp_path / "other-file"
    other.write_bytes(b"someone's data")
    other.chmod(0o666)
    path = tmp_path / "model.npz"
    os.link(other, path)  # the name could have been planted by another user
    save_with_umask(small_model(), path, 0o022)
    assert path.stat().st_mode & 0o777 == 0o644
    assert other.read_bytes() == b"someone's data"


@pytest.mark.parametrize(
    "failure, expected, message",
    [
        (
            MemoryError("Unable to allocate 745. GiB"),
            MemoryError,
            r"model.npz: not enough memory to read the model .*; the file has [0-9,]+ bytes: if that is far less",
        ),
        (OSError(5, "Input/output error"), OSError, r"model.npz: reading failed \(Input/output error\); check the disk"),
        (OSError(116, "Stale file handle"), OSError, r"model.npz: reading failed \(Stale file handle\); check the disk or"),
        (OSError(5, None), OSError, r"model.npz: reading failed \(Input/output error\)"),
        (OSError(22, "Invalid argument"), ValueError, r"model.npz: not a NetLite model file \(not a NumPy .npz"),
    ],
)
def test_load_tells_memory_and_disk_errors_from_damage(tmp_path, monkeypatch, failure, expected, message):
    path = tmp_path / "model.npz"
    small_model().save(path)

    def fail(*arguments, **options):
        raise failure

    monkeypatch.setattr(np, "load", fail)
    with pytest.raises(expected, match=message):
        small_model().load(path)


def test_load_reports_overlong_number_in_description(tmp_path):
    path = tmp_path / "model.npz"
    small_model().save(path)
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["__netlite__"] = np.array(str(arrays["__netlite__"]).replace('"version": 2', '"version": ' + "9" * 5001))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"model.npz: the model description is damaged \(a number of thousands of digits"):
        small_model().load(path)


def test_save_failure_not_permitted_suggests_another_name(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"

    def not_permitted(source, destination):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "replace", not_permitted)
    with pytest.raises(PermissionError, match=r"saving failed \(Operation not permitted\).*save under another name"):
        small_model().save(path)
    assert os.listdir(tmp_path) == []


def test_save_hard_linked_private_file(tmp_path):
    path = tmp_path / "model.npz"
    small_model().save(path)
    path.chmod(0o600)
    os.link(path, tmp_path / "backup.npz")
    save_with_umask(small_model(), path, 0o022)
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a file to any group")
def test_save_hard_linked_file_of_other_group(tmp_path):
    path = tmp_path / "model.npz"
    small_model().save(path)
    os.chown(path, -1, 65534)
    path.chmod(0o640)  # readable by group 65534 only
    os.link(path, tmp_path / "backup.npz")
    save_with_umask(small_model(), path, 0o022)
    assert path.stat().st_gid != 65534  # the group is not taken from a file with a second link ...
    assert path.stat().st_mode & 0o777 == 0o600  # ... so the new group gets what everyone else had


def test_save_over_link_through_a_file(tmp_path):
    (tmp_path / "file").write_bytes(b"not a folder")
    path = tmp_path / "model.npz"
    path.symlink_to("file/model.npz")  # a broken link, like one to a missing file
    small_model().save(path)
    small_model().load(path)


def test_save_through_link_chain(tmp_path):
    # Own link -> a link in a shared folder (someone else's) -> a world-writable file.
    shared = tmp_path / "shared"
    shared.mkdir()
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"notes")
    notes.chmod(0o666)
    (shared / "slot.npz").symlink_to(notes)
    link = tmp_path / "current.npz"
    link.symlink_to(shared / "slot.npz")
    save_with_umask(small_model(), link, 0o077)
    assert link.stat().st_mode & 0o777 == 0o600
    assert notes.read_bytes() == b"notes"


@pytest.mark.parametrize(
    "returned, message",
    [
        (lambda Y: None, r"forward\(\) of layer 1 \(BadTanh\(\)\) returned None; end its forward\(\) with 'return'"),
        (lambda Y: Y.tolist(), r"forward\(\) of layer 1 \(BadTanh\(\)\) returned a list; return the layer's output as a numpy array"),
        (lambda Y: float(Y.sum()), r"forward\(\) of layer 1 \(BadTanh\(\)\) returned a float; return the layer's output as a numpy array"),
    ],
    ids=["None", "list", "float"],
)
def test_forward_names_layer_without_array(returned, message):
    class BadTanh(nl.Tanh):
        def forward(self, X):
            return returned(super().forward(X))

    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 2), BadTanh(), nl.FullyConnectedLayer(2, 1)])
    with pytest.raises(TypeError, match=message):
        model.forward(np.zeros((4, 3), dtype=np.float32))


def test_predict_names_ragged_list():
    # Each batch of 2 is even on its own; only the whole list is ragged.
    samples = [[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [0.0, 1.0], [1.0, 2.0]]
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 2)])
    with pytest.raises(ValueError, match=r"^NeuralNetwork.predict: the input does not form an array .*; give every sample the same shape$"):
        model.predict(samples, batchsize=2)
    assert model.predict(samples[:2], batchsize=1).shape == (2, 2)
