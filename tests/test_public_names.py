"""The import paths users' scripts, the project's description and every commit's asv
suite use keep working, whatever folder the code lives in."""
import importlib

import pytest

OLD_NAMES = {
    "scratchnet.benchmark": ["measure_inference_latency_per_sample", "_measure_peak_memory_mb",
                             "measure_time_to_accuracy", "Timing"],
    "scratchnet.compare": ["benchmark_scratch_vs_torch"],
    "scratchnet.frameworks": ["user_entry", "REGISTRY", "SCRATCH"],
    "scratchnet.instructions": ["INSTALL_HINT", "InstructionCountError", "count_instructions"],
    "scratchnet.onnx_export": ["export_onnx", "is_onnx_available", "OnnxRuntimeModel"],
    "scratchnet.data": ["load_dataset"],
    "scratchnet": ["NeuralNetwork", "PrecisionConfig", "is_torch_available", "batch_order"],
}


@pytest.mark.parametrize("module", sorted(OLD_NAMES))
def test_an_old_import_path_still_gives_its_names(module):
    loaded = importlib.import_module(module)
    for name in OLD_NAMES[module]:
        assert callable(getattr(loaded, name)) or getattr(loaded, name) is not None, name


def test_an_old_module_name_is_the_moved_module_itself():
    """Patching or reading through the old name reaches the code that runs."""
    from scratchnet import benchmark, compare
    from scratchnet.harness import compare as harness_compare, timing
    assert benchmark is timing and compare is harness_compare


def test_the_twin_is_found_by_its_old_path():
    pytest.importorskip("torch")
    from scratchnet.pytorch_model import TorchNeuralNetwork, is_torch_available
    assert is_torch_available() and TorchNeuralNetwork.__name__ == "TorchNeuralNetwork"
