"""The network: an ordered list of layers, run forward and backward in turn."""

import errno
import json
import os
import stat
import tempfile
import warnings

import numpy as np

from .kernels.jit import stacklevel_outside_netlite
from .layers.activations import ReLU, Sigmoid, Softmax, Tanh
from .layers.base import Layer, check_initialised, parameter_dtype
from .losses import Loss, describe_value, is_truth_value

MODEL_FORMAT = "netlite-model"
# Version 2 describes every layer's settings (BatchNorm's momentum and eps too), and load() compares
# them. Version 1 files are still read; their descriptions are compared by layer type only.
MODEL_FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)


class NeuralNetwork:
    """A feed-forward network built from a list of layers.

    ``forward(X)`` runs every layer and ``backward(grad)`` runs them in
    reverse. For training with a loss that takes logits (CrossEntropyLoss),
    ``forward(X, logits=True)`` stops before a final Softmax layer, and the
    following ``backward`` starts below it.

    The network sets ``compute_input_grad = False`` on its first layer (on
    layers that support it, as ConvolutionalLayer does), because nothing
    needs the gradient with respect to the network's input. That saves the
    most expensive part of a convolution's backward pass. Set it back to True
    on ``model.layers[0]`` to inspect input gradients (saliency maps).
    """

    def __init__(self, layers=()):
        self.layers = []
        self._n_layers_run = None  # how many layers the last forward() ran; None before it and after predict()
        self._predicted = False  # whether predict() ran last, which keeps nothing for backward()
        self._warned = set()  # the input mistakes this network has warned about, each once
        for layer in layers:
            self.add_layer(layer)

    def add_layer(self, layer):
        """Append a layer to the end of the network."""
        if isinstance(layer, Loss):
            raise TypeError(
                f"NeuralNetwork: {layer!r} is a loss, not a layer; a network ends with its last layer, "
                f"and the loss goes to the optimizer, as in nl.OptimizerADAM(loss, learning_rate)"
            )
        if not isinstance(layer, Layer):
            raise TypeError(
                f"NeuralNetwork: expected a layer (an instance of netlite's Layer), "
                f"got {type(layer).__name__}; did you forget the parentheses, as in nl.ReLU()?"
            )
        check_initialised("NeuralNetwork", layer)
        # A layer keeps what its backward pass needs from its last forward call, so one object
        # at two places would overwrite its own cache and give wrong gradients.
        for position, existing in enumerate(self.layers):
            if existing is layer:
                raise ValueError(
                    f"NeuralNetwork: this {layer!r} object is already layer {position} of the network, and a "
                    f"layer object can appear only once; create one for each place, as in [nl.ReLU(), ..., nl.ReLU()]"
                )
        self.layers.append(layer)
        if len(self.layers) == 1 and hasattr(layer, "compute_input_grad"):
            layer.compute_input_grad = False
        return self

    # -- running the network -------------------------------------------------

    def forward(self, X, logits=False):
        """Run every layer on X and return the output.

        With ``logits=True`` a final Softmax layer is skipped, so the output
        is the logits that CrossEntropyLoss expects.
        """
        # Anything else, a numpy number or a label of 2 or more included, is most likely labels:
        # model.forward(X, y). NOTE: a Python int label of 0 or 1 passes as False or True.
        if not is_truth_value(logits):
            raise TypeError(
                f"NeuralNetwork.forward: logits must be True or False, got {describe_value(logits)}; "
                f"forward() takes only the inputs X, and the labels go to the loss: loss.forward(model.forward(X, logits=loss.takes_logits), y)"
            )
        if not self.layers:
            raise ValueError("NeuralNetwork: the network has no layers; add some with add_layer()")
        layers = self.layers
        if logits and isinstance(layers[-1], Softmax):
            layers = layers[:-1]
        self._warn_about_likely_mistakes(X, logits)
        for index, layer in enumerate(layers):
            X = layer.forward(X)
            if X is None:  # else the next layer would report an object array, not the missing return
                raise TypeError(
                    f"NeuralNetwork: forward() of layer {index} ({layer!r}) returned None; "
                    f"end its forward() with 'return' and the layer's output"
                )
            if not isinstance(X, np.ndarray):  # a layer of the student's own after it may read X.shape
                raise TypeError(
                    f"NeuralNetwork: forward() of layer {index} ({layer!r}) returned a {type(X).__name__}; "
                    f"return the layer's output as a numpy array (np.asarray(...) turns a list into one)"
                )
        self._n_layers_run = len(layers)
        self._predicted = False
        return X

    def _warn_about_likely_mistakes(self, X, logits):
        """Warn, at most once per network, about input that runs but rarely means what was intended.

        The warnings name the first line outside the netlite package, the
        user's own call, because Python's default warning filter reports a
        warning once per code location.
        """
        last_layer = self.layers[-1]
        if isinstance(X, np.ndarray) and X.dtype == np.uint8 and X.size and "uint8" not in self._warned:
            largest = int(X.max())
            if largest > 1:
                self._warned.add("uint8")
                warnings.warn(
                    f"NeuralNetwork: the input is uint8 with values up to {largest}, and the layers use "
                    f"these values unscaled; for images, divide by 255 (X / 255) to train on values in [0, 1]",
                    UserWarning,
                    stacklevel=stacklevel_outside_netlite(),
                )
        if logits and isinstance(last_layer, (Sigmoid, Tanh, ReLU)) and "logits" not in self._warned:
            self._warned.add("logits")
            warnings.warn(
                f"NeuralNetwork: the loss expects logits (raw scores), but the network ends with "
                f"{last_layer!r}, which squashes them; remove that last layer, or end with nl.Softmax(), "
                f"which the loss skips",
                UserWarning,
                stacklevel=stacklevel_outside_netlite(),
            )

    def backward(self, grad):
        """Run backward through the layers of the last forward pass, last layer first.

        Returns the gradient with respect to the network's input, or None
        when the first layer skips it (see the class docstring).
        """
        if self._n_layers_run is None:
            if self._predicted:
                raise RuntimeError(
                    "NeuralNetwork: backward() called after predict(), which keeps nothing for backward(); "
                    "run forward() on the batch first"
                )
            raise RuntimeError("NeuralNetwork: backward() called before forward(); run forward() on a batch first")
        layers_run = self.layers[: self._n_layers_run]
        for index in reversed(range(len(layers_run))):
            grad = layers_run[index].backward(grad)
            if grad is None and index > 0:
                raise TypeError(
                    f"NeuralNetwork: backward() of layer {index} ({layers_run[index]!r}) returned None, but layer "
                    f"{index - 1} needs the gradient with respect to its output; return it from backward() "
                    f"(only the first layer may skip it: set compute_input_grad = True on a layer that was "
                    f"first in another network)"
                )
        return grad

    def predict(self, X, batchsize=256):
        """Return the network's output for X in evaluation mode, batch by batch.

        Nothing here runs backward(), so after each batch the cache of every
        layer with netlite's own forward() (what it kept for backward()) is
        dropped, and the next batch reuses that memory. At batch 1,000 this
        made LeNet-5's prediction of the MNIST test set 10 to 15 % faster
        (docs/benchmarks.md).
        """
        if isinstance(X, (list, tuple)):  # converted once, because batches that are each even may differ from each other
            try:
                X = np.asarray(X)
            except ValueError as error:  # numpy refuses lists of samples of different shapes
                raise ValueError(
                    f"NeuralNetwork.predict: the input does not form an array ({error}); give every sample the same shape"
                ) from None
        if len(X) == 0:
            raise ValueError(f"NeuralNetwork.predict: expected at least one sample, got input of shape {np.shape(X)}")
        if isinstance(batchsize, bool) or not isinstance(batchsize, (int, np.integer)) or batchsize < 1:
            raise ValueError(f"NeuralNetwork.predict: batchsize must be a positive whole number, got {batchsize!r}")
        was_training = self.is_training
        self.eval()
        try:
            outputs = []
            for start in range(0, len(X), batchsize):
                outputs.append(self.forward(X[start : start + batchsize]))
                self._release_caches()
        finally:
            if was_training:
                self.train()
        return np.concatenate(outputs)

    def _release_caches(self):
        """Drop what layers with netlite's own forward() kept for backward(), as predict() does after each batch.

        That forward() sets the cache anew each time. A layer with a forward() of your own keeps its
        cache, because that forward() may fill a container that its __init__ made.
        """
        for layer in self.layers:
            if (getattr(type(layer).forward, "__module__", None) or "").startswith("netlite."):
                layer.cache = None
        self._n_layers_run = None
        self._predicted = True

    # -- modes and parameters ------------------------------------------------

    def train(self):
        """Put every layer in training mode (Dropout active, BatchNorm on batch statistics)."""
        for layer in self.layers:
            layer.train()
        return self

    def eval(self):
        """Put every layer in evaluation mode (Dropout off, BatchNorm on running statistics)."""
        for layer in self.layers:
            layer.eval()
        return self

    @property
    def is_training(self):
        return any(layer.training for layer in self.layers)

    def astype(self, dtype):
        """Cast every layer's parameters to ``dtype`` (float32 to train, float64 to check gradients)."""
        dtype = parameter_dtype("NeuralNetwork.astype", dtype)  # checked once, so that no layer is cast on failure
        for layer in self.layers:
            layer.astype(dtype)
        return self

    @property
    def n_params(self):
        return sum(layer.n_params for layer in self.layers)

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    # -- summary -------------------------------------------------------------

    def summary(self, input_shape=None):
        """Return a table of the layers with their output shapes and parameter counts.

        ``input_shape`` is the shape of one sample, without the batch axis,
        e.g. ``(32, 32, 1)``; without it only the shapes that do not depend on
        the input size are shown. With ``input_shape``, a layer that cannot
        take the shape before it gets "?", and a line under the table gives the reason.
        """
        rows = [("#", "layer", "output shape", "parameters")]
        shape = tuple(input_shape) if input_shape is not None else None
        problem = None
        for index, layer in enumerate(self.layers):
            failed = False
            if shape is not None:
                try:
                    shape = tuple(layer.output_shape(shape))
                except NotImplementedError:  # a layer of the student's own without output_shape
                    shape = None
                except (ValueError, TypeError, IndexError) as error:
                    problem = problem or f"layer {index}, {layer!r}, cannot take samples of shape {shape}: {error}"
                    shape, failed = None, True
            if shape is None and not failed and hasattr(layer, "n_outputs"):
                shape = (layer.n_outputs,)
            shape_text = str(("batch",) + shape).replace("'", "") if shape is not None else "?"
            rows.append((str(index), repr(layer), shape_text, f"{layer.n_params:,}"))
        widths = [max(len(row[column]) for row in rows) for column in range(4)]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
        rule = "-" * len(max(lines, key=len))
        lines.insert(1, rule)
        lines.extend([rule, f"total parameters: {self.n_params:,}"])
        if problem is not None:
            lines.append(problem)
        return Summary("\n".join(lines))

    def __repr__(self):
        return f"NeuralNetwork({len(self.layers)} layers, {self.n_params:,} parameters)"

    # -- saving and loading --------------------------------------------------

    def save(self, path):
        """Write every layer's parameters and buffers to ``path`` (a NumPy .npz file; '~/' means the home folder).

        The file contains only arrays and a JSON description, never a pickle,
        so loading a model from someone else cannot run code. It is written
        to a temporary file first and renamed when complete, so an interrupted
        save never leaves a half-written model behind. A process killed by a signal
        (SIGTERM, SIGKILL, a Jupyter kernel restart) cannot remove that temporary file: a
        hidden ``.netlite-<random>.part`` beside the model, which can be deleted.
        """
        path = os.fsdecode(path)  # also takes a bytes path
        if not path:
            raise ValueError("NeuralNetwork.save: got an empty path; give a file name, such as 'model.npz'")
        path = _expand_home(path)
        if os.path.isdir(path):
            raise IsADirectoryError(f"{path}: is a folder; give a file name, such as {os.path.join(path, 'model.npz')}")
        folder = os.path.dirname(os.path.abspath(path))
        blocking = _file_in_place_of_folder(folder)
        if blocking is not None:
            raise NotADirectoryError(f"{path}: {blocking} is a file, not a folder; save into a folder")
        if path.endswith((os.sep, os.altsep or os.sep)):
            named = path.rstrip(os.sep + (os.altsep or ""))
            if os.path.isfile(named):
                raise NotADirectoryError(
                    f"{path}: names a folder, but {named} is a file, not a folder; to replace that file, save to "
                    f"{named}, otherwise choose another name"
                )
            if os.path.exists(named):
                raise NotADirectoryError(f"{path}: names a folder, but {named} exists and is not one; choose another name")
            raise FileNotFoundError(
                f"{path}: names a folder, which does not exist; create it first and give a file name in it, "
                f"such as {os.path.join(path, 'model.npz')}"
            )
        if os.path.exists(path) and not os.path.isfile(path):
            raise FileExistsError(
                f"{path}: exists and is not a regular file (a device, a pipe, a socket, or a link to one); "
                f"save under another name"
            )
        arrays = {"__netlite__": np.array(json.dumps(self._description()))}
        for index, layer in enumerate(self.layers):
            for kind, values in (("params", layer.params), ("buffers", layer.buffers)):
                for name, value in values.items():
                    arrays[f"{index}/{kind}/{name}"] = value

        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{path}: the folder {folder} does not exist; create it first")
        # The rename below would replace a file that the user may not write, so that is checked here:
        # os.access() for other users' files, the mode bits for root, whom os.access() allows every write.
        if os.path.isfile(path) and (not os.access(path, os.W_OK) or os.stat(path).st_mode & 0o222 == 0):
            raise PermissionError(
                f"{path}: the file is write-protected or belongs to another user; save under another name, or "
                f"make the file writable if it is yours"
            )
        try:
            handle, temporary_path = tempfile.mkstemp(dir=folder, prefix=".netlite-", suffix=".part")
        except OSError as error:
            raise _os_error(error, f"{path}: cannot write into the folder {folder} ({error.strerror or error}); save elsewhere") from None
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(file, **arrays)
                file.flush()
                _set_permissions(file.fileno(), path, folder)
                os.fsync(file.fileno())
            os.replace(temporary_path, path)
        except OSError as error:
            os.unlink(temporary_path)
            hint = "; if the file belongs to another user, save under another name" if error.errno == errno.EPERM else ""
            raise _os_error(
                error, f"{path}: saving failed ({error.strerror or error}); any earlier file of this name is unchanged{hint}"
            ) from None
        except BaseException:
            os.unlink(temporary_path)
            raise

    def load(self, path):
        """Load parameters saved by ``save`` from ``path`` into this network, which must have the same layers.

        Raises ValueError naming the file and the first layer or array that
        does not fit; the network is changed only when the whole file fits.
        """
        path = os.fsdecode(path)  # also takes a bytes path
        if not path:
            raise ValueError("NeuralNetwork.load: got an empty path; give the name of a file that save() wrote")
        path = _expand_home(path)
        if os.path.exists(path) and not (os.path.isfile(path) or os.path.isdir(path)):
            # Opening a pipe would wait for a writer, so such paths are rejected before open().
            raise ValueError(f"{path}: is not a regular file (a device, a pipe or a socket); give the file that save() wrote")
        # Opening raises the operating system's own error for a missing or unreadable file or a folder.
        with open(path, "rb") as file:
            try:
                with np.load(file, allow_pickle=False) as archive:
                    arrays = {key: archive[key] for key in archive.files}
            except MemoryError as error:  # an intact but large file, or a damaged size in a header
                size = os.fstat(file.fileno()).st_size
                raise MemoryError(
                    f"{path}: not enough memory to read the model ({error}); the file has {size:,} bytes: "
                    f"if that is far less than the amount asked for, the file is damaged, so save the model "
                    f"again; otherwise free memory"
                ) from None
            except Exception as error:
                # OS errors (a failing disk, a lost share) pass on, except EINVAL, which a damaged zip offset causes.
                # Anything else means a damaged or foreign file. numpy's advice to allow pickles must not be followed.
                if isinstance(error, OSError) and error.errno and error.errno != errno.EINVAL:
                    reason = error.strerror or os.strerror(error.errno)
                    raise _os_error(
                        error,
                        f"{path}: reading failed ({reason}); check the disk or the network share, or copy the file again",
                    ) from None
                file.seek(0)
                start = file.read(4)
                if start == b"PK\x03\x04" and not _intact_zip(file):  # the start of a zip archive, as in .npz files
                    raise ValueError(
                        f"{path}: the file is damaged or cut short, or a zip archive that no model was saved to: it "
                        f"starts like a zip archive, as .npz model files do, but reading it failed ({error}); copy the "
                        f"file again, or save the model again"
                    ) from None
                problem = "the file is empty" if not start else "not a NumPy .npz archive of plain arrays"
                raise ValueError(
                    f"{path}: not a NetLite model file ({problem}); save one with model.save(path)"
                ) from None

        if "__netlite__" not in arrays:
            raise ValueError(f"{path}: not a NetLite model file (no '__netlite__' entry); save one with model.save(path)")
        try:
            saved = json.loads(str(arrays.pop("__netlite__")))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: the model description is not valid JSON ({error}); save the model again") from None
        except (ValueError, RecursionError):
            raise ValueError(
                f"{path}: the model description is damaged (a number of thousands of digits, or nesting too "
                f"deep to read); save the model again"
            ) from None
        if not isinstance(saved, dict) or not isinstance(saved.get("layers"), list):
            raise ValueError(f"{path}: the model description has no list of layers; save the model again")
        version = saved.get("version")
        known_version = type(version) is int and version in READABLE_FORMAT_VERSIONS  # not True or 1.0
        if saved.get("format") != MODEL_FORMAT or not known_version:
            raise ValueError(
                f"{path}: unsupported model format {saved.get('format')!r} version {version!r}, "
                f"expected {MODEL_FORMAT!r} version {' or '.join(map(str, READABLE_FORMAT_VERSIONS))}"
            )
        for index, layer in enumerate(saved["layers"]):
            complete = isinstance(layer, dict) and {"type", "repr", "params", "buffers"} <= set(layer)
            if not complete or not isinstance(layer["type"], str) or not isinstance(layer["repr"], str):
                raise ValueError(
                    f"{path}: the description of layer {index} is damaged (expected an object with type, repr, "
                    f"params and buffers, got {str(layer)[:80]}); save the model again"
                )
        try:
            self._check_fits(path, saved["layers"], arrays, compare_settings=saved["version"] >= 2)
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{path}: the model description is damaged ({error}); save the model again") from None

        not_finite, too_large = [], []
        for key, value in arrays.items():
            index, kind, name = key.split("/", 2)  # A layer of the user's own may have '/' in a parameter name.
            layer = self.layers[int(index)]
            store = layer.params if kind == "params" else layer.buffers
            with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf, reported below
                store[name] = value.astype(store[name].dtype)
            if not np.all(np.isfinite(value)):
                not_finite.append(f"layer {index} '{name}'")
            if np.any(np.isfinite(value) & ~np.isfinite(store[name])):
                too_large.append(f"layer {index} '{name}' ({value.dtype} to {store[name].dtype})")
        if not_finite:
            self._warn_on_load(
                f"{path}: the file contains NaN or infinite values in {', '.join(not_finite)}, so the network's "
                f"outputs will be NaN or inf; the model was probably saved after its training diverged"
            )
        if too_large:
            self._warn_on_load(
                f"{path}: values too large for the layer's dtype became infinite in {', '.join(too_large)}; "
                f"load into a network cast with model.astype(np.float64) to keep them"
            )
        return self

    @staticmethod
    def _warn_on_load(message):
        warnings.warn(message, RuntimeWarning, stacklevel=stacklevel_outside_netlite())

    def _description(self):
        layers = [
            {
                "type": type(layer).__name__,
                "repr": repr(layer),
                "params": {name: list(value.shape) for name, value in layer.params.items()},
                "buffers": {name: list(value.shape) for name, value in layer.buffers.items()},
            }
            for layer in self.layers
        ]
        return {"format": MODEL_FORMAT, "version": MODEL_FORMAT_VERSION, "layers": layers}

    def _check_fits(self, path, saved_layers, arrays, compare_settings):
        expected_layers = self._description()["layers"]
        if len(saved_layers) != len(expected_layers):
            raise ValueError(
                f"{path}: the file contains {len(saved_layers)} layers, this network has {len(expected_layers)}; "
                f"build the same architecture as the saved model before loading"
            )
        for index, (saved, expected) in enumerate(zip(saved_layers, expected_layers)):
            if saved["type"] != expected["type"]:
                raise ValueError(
                    f"{path}: layer {index} is {saved['repr']} (type {saved['type']}) in the file but "
                    f"{expected['repr']} (type {expected['type']}) in this network; "
                    f"build the same architecture as the saved model before loading"
                )
            for kind in ("params", "buffers"):
                for name, shape in expected[kind].items():
                    key = f"{index}/{kind}/{name}"
                    if key not in arrays:
                        raise ValueError(f"{path}: layer {index} ({expected['repr']}) has no array '{name}' in the file")
                    if list(arrays[key].shape) != shape:
                        raise ValueError(
                            f"{path}: layer {index} ({expected['repr']}): '{name}' has shape "
                            f"{arrays[key].shape} in the file, expected {tuple(shape)}"
                        )
                    own = getattr(self.layers[index], kind)[name]
                    # A float array loads into a float one and an integer array (a counter) into an integer one.
                    same_kind = (arrays[key].dtype.kind == "f") == (own.dtype.kind == "f")
                    if arrays[key].dtype.kind not in "biuf" or not same_kind:
                        raise ValueError(
                            f"{path}: layer {index} ({expected['repr']}): '{name}' has dtype "
                            f"{arrays[key].dtype} in the file, expected an array like the layer's own {own.dtype}"
                        )
                    if own.dtype.kind in "iu" and arrays[key].size and not _fits_integer_type(arrays[key], own.dtype):
                        raise ValueError(
                            f"{path}: layer {index} ({expected['repr']}): '{name}' has values from "
                            f"{arrays[key].min()} to {arrays[key].max()} in the file, beyond the range of the "
                            f"layer's {own.dtype}; give the layer an integer type that holds these values"
                        )
            # The description shows a layer's settings (LeakyReLU's alpha, Dropout's p), which no array stores.
            if compare_settings and saved["repr"] != expected["repr"]:
                raise ValueError(
                    f"{path}: layer {index} is {saved['repr']} in the file but {expected['repr']} in this network; "
                    f"create the layer with the saved settings before loading"
                )
        expected_keys = {
            f"{index}/{kind}/{name}"
            for index, layer in enumerate(expected_layers)
            for kind in ("params", "buffers")
            for name in layer[kind]
        }
        unexpected = sorted(set(arrays) - expected_keys)
        if unexpected:
            raise ValueError(f"{path}: unexpected arrays in the file: {unexpected}; was it saved from another network?")


def _fits_integer_type(array, dtype):
    """Return True if every value of the integer array fits ``dtype`` without wrapping around."""
    limits = np.iinfo(dtype)
    return limits.min <= array.min() and array.max() <= limits.max


def _expand_home(path):
    """Return ``path`` with its first folder expanded if it is '~' or '~user', as the data loaders do.

    Only a first part followed by a separator is taken as a folder, and only when no folder of that
    name exists here. So '~model.npz' stays a file name, and a folder named '~' is used as it is.
    Raises FileNotFoundError when the home folder is not known (HOME unset and no such user).
    """
    first, separator, _ = path.replace(os.altsep or os.sep, os.sep).partition(os.sep)
    if not first.startswith("~") or not separator or os.path.isdir(first):
        return path
    expanded = os.path.expanduser(path)
    empty_home = first == "~" and os.name == "posix" and os.environ.get("HOME") == ""  # expanduser() would give "/"
    if expanded == path or empty_home:
        raise FileNotFoundError(
            f"{path}: the home folder '{first}' is not known here (HOME is not set, or there is no such user); "
            f"give the full path of the folder"
        )
    return expanded


def _file_in_place_of_folder(folder):
    """Return the nearest existing path at or above ``folder`` if it is not a folder, else None."""
    existing = folder
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    return None if os.path.isdir(existing) else existing


def _set_permissions(fd, path, folder):
    """Give the open new model file ``fd`` the permissions that the file at ``path`` should keep.

    mkstemp creates the file readable by its owner only. A new file gets 0666 minus the umask, like
    any file the user creates. A replaced regular file (or the target of the saver's own link) that
    belongs to the saver or to the folder's owner passes on its mode, owner and group as far as the
    saver may. Root keeps the owner and the group. Another user keeps the group if they belong to
    it. If not, the new file is in their own group, which gets only what the old mode gave everyone
    else. A file or link that someone else put into a shared folder passes on nothing, so that it
    cannot decide who may read or change the model. Everything is set on the open file, not by
    name, so that no one can swap the temporary file for a link to another file in between.
    """
    umask = os.umask(0)
    os.umask(umask)
    new_file_mode = 0o666 & ~umask
    trusted_owners = (os.geteuid(), os.stat(folder).st_uid)
    try:
        existing = os.lstat(path)
        if stat.S_ISLNK(existing.st_mode) and existing.st_uid in trusted_owners:
            # The saver's own link: its target counts, if that is no further link.
            target = os.path.join(os.path.dirname(path), os.readlink(path))
            existing = os.lstat(target)
    except (FileNotFoundError, NotADirectoryError):  # no file, or a link to none
        existing = None
    if existing is None or not stat.S_ISREG(existing.st_mode) or existing.st_uid not in trusted_owners:
        os.fchmod(fd, new_file_mode)
        return
    mode = existing.st_mode & 0o777
    if existing.st_nlink > 1:
        # A second hard link may be someone else's file under a planted name: no mode wider than
        # either the old file's or a new file's, and no owner or group from it.
        mode &= new_file_mode
    else:
        for owner in (existing.st_uid, -1):  # -1 leaves the owner as it is
            try:
                os.fchown(fd, owner, existing.st_gid)
                break
            except OSError:  # not permitted, or a file system without owners
                continue
    if os.fstat(fd).st_gid != existing.st_gid:
        # Another group than the old file's gets only what the old mode gave everyone else.
        others = mode & 0o007
        mode = (mode & ~0o070) | (others << 3)
    os.fchmod(fd, mode)


def _intact_zip(file) -> bool:
    """Return True if ``file`` is a zip archive whose entries all read back with the right checksums."""
    import zipfile  # only here, on the way to an error message

    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            return archive.testzip() is None
    except Exception:  # zipfile raises many kinds of errors for damaged archives, NotImplementedError too
        return False


def _os_error(error, message):
    """Return an OSError of the same kind as ``error`` (PermissionError, ...) with ``message``, which names the path."""
    return OSError(error.errno, message) if error.errno else OSError(message)


class Summary(str):
    """The text of ``NeuralNetwork.summary``; shown as a table, not a quoted string, in notebooks."""

    def __repr__(self):
        return str(self)
