"""The machine's GEMM rate: the roofline that training speed is measured against.

``time_sgemm`` times NumPy's float32 matrix multiply at 2048x2048 with one
thread, as ``scratchnet compare --roofline`` does. The figures derived from it
are not tracked here: asv reads every larger number as worse, so a falling
GFLOP/s would count as an improvement, and it compares a track by its factor
alone (a track has no samples), so a ratio of two noisy times would flip the
gate at random. ``scratchnet export`` derives the achieved GFLOP/s, its
fraction of this rate, and scratch_numpy's time over PyTorch's (with a
confidence interval) from the ``time_`` benchmarks' samples.
"""
import numpy as np

from .common import use_threads

#: The side of the square matrices: 2 x 2048^3 = 17.2 GFLOP a call.
SGEMM_SIZE = 2048


class Sgemm:
    number = 1
    repeat = (3, 10, 3.0)
    warmup_time = 0.5
    version = "1"
    timeout = 300

    def setup(self):
        use_threads()
        rng = np.random.default_rng(0)
        self.a, self.b = (rng.random((SGEMM_SIZE, SGEMM_SIZE), dtype=np.float32) for _ in range(2))
        self.out = np.empty((SGEMM_SIZE, SGEMM_SIZE), np.float32)

    def time_sgemm(self):
        """One float32 2048x2048 matrix multiply in NumPy (one thread)."""
        np.matmul(self.a, self.b, out=self.out)
