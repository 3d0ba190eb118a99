import os

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles: "dev" (default) for quick local runs, "ci" a little deeper.
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(params=["scratch_numpy", "pytorch"])
def model_class(request):
    """Each model class in turn; the pytorch case is skipped where torch is missing."""
    from scratchnet import NeuralNetwork, is_torch_available
    if request.param == "pytorch":
        if not is_torch_available():
            pytest.skip("torch not installed")
        from scratchnet import TorchNeuralNetwork
        return TorchNeuralNetwork
    return NeuralNetwork


@pytest.fixture(scope="session")
def small_data():
    """Synthetic (X (160, 20) float32, labels (160,)), (X_test (40, 20), labels (40,))."""
    from scratchnet.data import load_dataset
    X_train, y_train, X_test, y_test = load_dataset("synthetic", n_features=20, n_samples=200,
                                                    seed=3)
    return X_train, y_train, X_test, y_test
