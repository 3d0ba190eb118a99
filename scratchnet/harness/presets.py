"""The comparison's configurations, written once: ``compare``, the CLI's choices, help and
defaults, and ``train_model``'s defaults read them. (The asv suite keeps its own copy,
so a published benchmark's inputs do not change with the package; a test checks the
two agree.)
"""

#: The spec's three configurations. The spec's "deep" example lists five
#: activations for four layers; a network needs len(layer_sizes) - 1 of them,
#: so it is three relu layers and a softmax output here.
PRESETS = {
    "default": dict(layer_sizes=[784, 64, 10], activations=["relu", "softmax"], n_samples=512,
                    epochs=3, batch_size=32, alpha=0.1, seed=42),
    "deep": dict(layer_sizes=[1024, 512, 256, 128, 10], activations=["relu", "relu", "relu", "softmax"],
                 n_samples=1000, epochs=5, batch_size=64, alpha=0.01, seed=42),
    "wide": dict(layer_sizes=[784, 256, 256, 10], activations=["relu", "relu", "softmax"],
                 n_samples=500, epochs=10, batch_size=128, alpha=0.05, seed=123),
}

#: The performance work's two further configurations (synthetic data: they need
#: more samples than the digits have): many tiny batches, and large layers.
EXTRA_PRESETS = {
    "small_batch": dict(layer_sizes=[784, 64, 10], activations=["relu", "softmax"], n_samples=8192,
                        epochs=1, batch_size=8, alpha=0.1, seed=42),
    "large": dict(layer_sizes=[784, 1024, 1024, 10], activations=["relu", "relu", "softmax"],
                  n_samples=4096, epochs=1, batch_size=256, alpha=0.01, seed=42),
}
#: Time-to-accuracy (``--target-accuracy``): a network that learns (cross-entropy) on all
#: 1,797 digits (1,437 to train, 359 held out); both networks reach 0.9 at epoch 2 here.
GOAL_PRESETS = {
    "time_to_accuracy": dict(layer_sizes=[784, 64, 10], activations=["relu", "softmax"],
                             loss="cross_entropy", n_samples=1437, epochs=3, batch_size=32,
                             alpha=0.1, seed=42, target_accuracy=0.9, max_epochs=20),
}
ALL_PRESETS = {**PRESETS, **EXTRA_PRESETS, **GOAL_PRESETS}

#: The settings ``train`` and ``demo`` default to: the default preset's.
DEFAULT = PRESETS["default"]
