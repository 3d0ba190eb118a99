"""Shared presets, data and model factories for the asv suite.

The presets are the spec's three configurations, written out here rather
than imported from scratchnet.compare: a published benchmark's inputs must
not change when the package does, and this suite must import at commits
where scratchnet.compare does not exist. tests/test_asv_export.py checks they
still equal scratchnet.compare.PRESETS.

Anything a commit lacks (torch, an API) raises NotImplementedError from
setup, which asv records as "skipped" for that commit instead of failing.
"""
import math
import os


def _user_models(text):
    """{row name: (spec, layout)} of ``SCRATCHNET_MODELS``: comma-separated
    ``NAME=package.module:Class`` entries, each optionally ending in ``@out_in``."""
    models = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, _, spec = entry.partition("=")
        spec, _, layout = spec.partition("@")
        if not name or ":" not in spec or layout not in ("", "in_out", "out_in"):
            raise ValueError(f"SCRATCHNET_MODELS: {entry!r} is not NAME=package.module:Class"
                             f"[@out_in]")
        if name.lower() in ("scratch_numpy", "pytorch", "pytorch_cuda", "onnxruntime") \
                or name in models:
            raise ValueError(f"SCRATCHNET_MODELS: the name {name!r} is taken; give each class "
                             f"a name of its own")
        models[name] = (spec, layout or "in_out")
    return models


#: Your own classes, tracked beside the built-in networks in the training, inference and
#: error-rate benchmarks (read when asv discovers the suite).
USER_MODELS = _user_models(os.environ.get("SCRATCHNET_MODELS", ""))
#: The built-in networks: the parity and instruction benchmarks compare or count these.
FRAMEWORKS = ["scratch_numpy", "pytorch"]
#: The rows of the training, inference and error-rate benchmarks.
MODEL_FRAMEWORKS = FRAMEWORKS + list(USER_MODELS)
PRESET_NAMES = ["default", "deep", "wide"]
PRESETS = {
    "default": dict(layer_sizes=[784, 64, 10], activations=["relu", "softmax"], n_samples=512,
                    epochs=3, batch_size=32, alpha=0.1, seed=42),
    "deep": dict(layer_sizes=[1024, 512, 256, 128, 10], activations=["relu", "relu", "relu", "softmax"],
                 n_samples=1000, epochs=5, batch_size=64, alpha=0.01, seed=42),
    "wide": dict(layer_sizes=[784, 256, 256, 10], activations=["relu", "relu", "softmax"],
                 n_samples=500, epochs=10, batch_size=128, alpha=0.05, seed=123),
}

#: Time-to-accuracy (``training.TimeToAccuracy``): a network that learns on all the digits.
GOAL_PRESETS = {
    "time_to_accuracy": dict(layer_sizes=[784, 64, 10], activations=["relu", "softmax"],
                             loss="cross_entropy", n_samples=1437, epochs=3, batch_size=32,
                             alpha=0.1, seed=42, target_accuracy=0.9, max_epochs=20),
}


class ModelBenchmark:
    """The hooks of every benchmark of a model, as in scikit-learn's asv suite:
    ``make_model`` builds the model a benchmark measures, ``skip`` raises
    NotImplementedError where this commit cannot build it (asv records "skipped"); both
    go through ``model_class``, the suite's one compatibility helper."""

    def make_model(self, framework, preset):
        return build(framework, preset)

    def skip(self, framework):
        model_class(framework)  # raises NotImplementedError saying why


class FrameworkPresetBenchmark(ModelBenchmark):
    """Parameters, version and shared data of a benchmark of one framework on one preset.

    ``version`` is set so that refactoring a benchmark's code, without
    changing what it measures, keeps its published history ("2": one thread
    instead of all cores).
    """

    params = [MODEL_FRAMEWORKS, PRESET_NAMES]
    param_names = ["framework", "preset"]
    version = "2"
    timeout = 300

    def setup_cache(self):
        return all_preset_data()


def held_out_size(n_samples):
    return max(1, round(n_samples / 4))


def load_preset_data(name):
    """(X_train, y_train, X_test, y_test) for a preset: digits, as scratchnet compare draws them."""
    try:
        from scratchnet.data import load_dataset
    except ImportError as exc:
        raise NotImplementedError(f"scratchnet.data is missing at this commit: {exc}")
    preset = {**PRESETS, **GOAL_PRESETS}[name]
    n_test = held_out_size(preset["n_samples"])
    total = preset["n_samples"] + n_test
    return load_dataset("digits", n_features=preset["layer_sizes"][0], n_samples=total,
                        test_fraction=n_test / total, seed=preset["seed"])


def all_preset_data():
    return {name: load_preset_data(name) for name in PRESET_NAMES}


def trained_models():
    """(data, {(framework, preset): {"weights", "accuracy", "proba"}}): every model trained
    once with the preset's settings, its weights, held-out accuracy and held-out
    probabilities (float64); a framework this commit cannot build is left out."""
    data = all_preset_data()
    trained = {}
    for framework in MODEL_FRAMEWORKS:
        for preset in PRESET_NAMES:
            try:
                model = build(framework, preset)
            except NotImplementedError:
                continue
            except Exception as exc:
                if framework not in USER_MODELS:
                    raise
                trained[framework, preset] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            use_threads()
            X_test, y_test = data[preset][2], data[preset][3]
            try:
                train(model, preset, data[preset])
                trained[framework, preset] = {
                    "weights": model.get_weights(),
                    "accuracy": float(model.evaluate(X_test, y_test)["accuracy"]),
                    "proba": model.predict_proba(X_test).astype("float64")}
                if not math.isfinite(float(trained[framework, preset]["proba"].sum())):
                    raise ValueError("its held-out outputs hold NaN or inf after training")
            except Exception as exc:
                # a user's class that fails fails its own benchmarks, not the built-in ones
                if framework not in USER_MODELS:
                    raise
                trained[framework, preset] = {"error": f"{type(exc).__name__}: {exc}"}
    return data, trained


class TrainedBenchmark(ModelBenchmark):
    """Base of the benchmarks that read trained models. asv runs a ``setup_cache`` once per
    defining function, so every subclass shares this one: each model is trained once per
    commit, not once per benchmark process."""

    timeout = 300

    def setup_cache(self):
        return trained_models()

    def trained(self, cache, framework, preset):
        """The trained entry, or NotImplementedError saying why this commit has none."""
        _, trained = cache
        if (framework, preset) not in trained:
            self.skip(framework)
            raise RuntimeError(f"{framework} on {preset} was not trained by setup_cache")
        if "error" in trained[framework, preset]:
            raise RuntimeError(f"{framework} on {preset}: {trained[framework, preset]['error']}")
        return trained[framework, preset]


def model_class(framework):
    """The model class for a framework, or NotImplementedError where it cannot be had."""
    try:
        import scratchnet
    except ImportError as exc:
        raise NotImplementedError(f"scratchnet does not import: {exc}")
    if framework == "scratch_numpy":
        return scratchnet.NeuralNetwork
    if framework in USER_MODELS:
        try:
            from scratchnet.frameworks import user_entry
        except ImportError:
            raise NotImplementedError("scratchnet.frameworks (user classes) is missing at this commit")
        return user_entry(framework, *USER_MODELS[framework]).model_class()
    try:
        if not scratchnet.is_torch_available():
            raise NotImplementedError("torch is not installed")
        return scratchnet.TorchNeuralNetwork
    except AttributeError:
        raise NotImplementedError("TorchNeuralNetwork is missing at this commit")


def build(framework, preset_name):
    """A fresh float32 model of the preset, seeded like scratchnet compare's."""
    preset = {**PRESETS, **GOAL_PRESETS}[preset_name]
    # the loss only where the preset sets one: the spec's presets build as at older commits
    loss = {"loss": preset["loss"]} if "loss" in preset else {}
    return model_class(framework)(preset["layer_sizes"], preset["activations"], seed=preset["seed"],
                                  **loss)


def train(model, preset_name, data, epochs=None):
    preset = PRESETS[preset_name]
    X_train, y_train = data[0], data[1]
    model.fit(X_train, y_train, epochs=epochs or preset["epochs"], alpha=preset["alpha"],
              batch_size=preset["batch_size"], seed=preset["seed"])
    return model


#: Threads for every framework, as scratchnet compare's default: one (its README shows
#: why: with all cores, another process on one core changes the ratios several-fold).
THREADS = 1
_threads_set = set()


def use_threads():
    """``THREADS`` threads for NumPy's BLAS and, once imported, torch.

    Applied once per process and per framework: threadpoolctl scans the loaded
    libraries, which would cost more than a forward pass if done before every call.
    """
    import sys
    key = "torch" in sys.modules
    if key in _threads_set:
        return
    _threads_set.add(key)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=THREADS)
    if key:
        sys.modules["torch"].set_num_threads(THREADS)


def is_square(n):
    return math.isqrt(n) ** 2 == n
