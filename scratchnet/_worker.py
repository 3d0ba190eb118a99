"""``python -m scratchnet._worker FRAMEWORK FOLDER``: measure one framework in a fresh
process for ``benchmark_scratch_vs_torch``; reads FOLDER/job.json and data.npz,
writes FOLDER/row.json and probabilities.npy."""
import json
import os
import sys

import numpy as np

from .compare import load_job, run_framework


def main(framework, folder):
    row, probabilities = run_framework(framework, load_job(folder))
    if probabilities is not None:
        np.save(os.path.join(folder, "probabilities.npy"), probabilities)
    with open(os.path.join(folder, "row.json"), "w") as handle:
        json.dump(row, handle)


if __name__ == "__main__":
    main(*sys.argv[1:3])
