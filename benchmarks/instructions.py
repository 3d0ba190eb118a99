"""Work per training step and per inference, counted in CPU instructions by valgrind
(``scratchnet.instructions``): one thread, a fixed hash seed, the cost of starting
Python, importing the framework and building the model subtracted.

The counts are deterministic: the same code gives the same figures however busy
the machine is. Code that changes without adding work moves them a little (the
addresses and alignment of what the worker allocates follow the size of what it
imported: up to 0.4 % on these presets), so ``asv continuous --bench Instructions
--factor 1.01`` raises no false alarm and catches a change that adds work even where
wall times are noise. Lower is better.
Skipped where valgrind is not installed or the commit has no scratchnet.instructions.
"""
from .common import FRAMEWORKS, PRESETS

#: The presets counted: the default only. Under valgrind the code runs many times slower,
#: and the larger presets' regions hold more work (at least two steps each): all three
#: presets took 234 s a commit here, the default alone 82 s. The default is also where the
#: gate sees most: one extra copy of every batch adds 6.2 % to its step, 1.6 % to wide's
#: and 0.8 % to deep's.
COUNTED_PRESETS = ["default"]


def count_all():
    """{"counts": {framework: [per preset: {train_step_instructions, inference_instructions}]
    or an error message}}, or {"skip": why}. Never None: asv would then call setup
    without the cache argument."""
    try:
        from scratchnet.instructions import (INSTALL_HINT, InstructionCountError,
                                             count_instructions, make_config, valgrind)
    except ImportError as exc:
        return {"skip": f"scratchnet.instructions is missing at this commit: {exc}"}
    if valgrind() is None:
        return {"skip": INSTALL_HINT}
    configs = [make_config(**{key: PRESETS[name][key] for key in (
        "layer_sizes", "activations", "n_samples", "batch_size", "alpha", "seed")}, dataset="digits")
        for name in COUNTED_PRESETS]
    results = count_instructions(FRAMEWORKS, configs)
    return {"counts": {framework: str(result) if isinstance(result, InstructionCountError) else result
                       for framework, result in results.items()}}


class Instructions:
    params = [FRAMEWORKS, COUNTED_PRESETS]
    param_names = ["framework", "preset"]
    version = "2"  # "2": the default preset only (before: all three)
    timeout = 1800

    def setup_cache(self):
        return count_all()

    setup_cache.timeout = 1800

    def setup(self, cache, framework, preset):
        if "skip" in cache:
            raise NotImplementedError(cache["skip"])
        if isinstance(cache["counts"][framework], str):
            raise RuntimeError(f"valgrind could not count {framework}: {cache['counts'][framework]}")

    def _count(self, cache, framework, preset, column):
        return cache["counts"][framework][COUNTED_PRESETS.index(preset)][column]

    def track_train_step_instructions(self, cache, framework, preset):
        """Instructions of one training step (one batch: forward, backward, update)."""
        return self._count(cache, framework, preset, "train_step_instructions")

    track_train_step_instructions.unit = "instructions"

    def track_inference_instructions(self, cache, framework, preset):
        """Instructions of one forward pass over the preset's held-out split."""
        return self._count(cache, framework, preset, "inference_instructions")

    track_inference_instructions.unit = "instructions"
