"""What a comparison's row of a user class gets from ``check``: where its parity is off,
the variant of the twin that reproduces its training, in the row's ``diagnosis``."""
from __future__ import annotations

import sys

from ..nn.losses import LossConvention
from ..metrics import NOT_LIKE_FOR_LIKE, PARITY_LIMIT
from .loader import CheckError
from .runner import check_model


def diagnose_user_row(row, job):
    """A user class's row whose parity is above ``PARITY_LIMIT``: the ``diagnosis`` column
    says what differs, from ``scratchnet check`` on the run's network and convention (the
    variant of the twin that reproduces the class's weights), and whether the class makes
    another number of updates per epoch than the twin (then its time per epoch is not like
    for like); a class that does not take ``loss`` under a loss other than MSE is told it
    trained its own."""
    user = job.models[row["framework"]]
    found = []
    if not user.get("takes_loss", True) and job.loss != "mse":
        found.append(f"your class does not take loss: it trained with its own loss, which "
                     f"--loss {job.loss} does not set (the parity says whether they agree)")
    parity = row.get("parity_max_abs_diff")
    if row["status"] == "ok" and parity is not None and parity > PARITY_LIMIT[job.precision]:
        found.append(_what_differs(user, job))
    if found:
        row["diagnosis"] = "; ".join(found)


def _what_differs(user, job):
    try:
        card = check_model(user["spec"], layer_sizes=job.layer_sizes, activations=job.activations,
                           layout=user["layout"], loss=LossConvention(job.loss, user["samples"],
                                                                      user["outputs"]),
                           time_limit=min(job.time_limit, 120.0),
                           python_path=job.python_path or sys.path)
    except (CheckError, ValueError) as exc:
        return f"scratchnet check could not run on it: {exc}"
    found = next((line for line in card.lines if line.status in ("fail", "warn")
                  and line.key in ("forward_float64", "one_step", "epochs")), None)
    if found is None:
        return ("scratchnet check finds no difference in float64 on its own data: the gap "
                f"comes from this run's data or its {job.precision} arithmetic")
    text = (f"scratchnet check on this network and loss, with its own 50 samples "
            f"({found.check}): {found.detail}")
    twin = -(-job.n_samples // job.batch_size)
    updates = {"full_batch": 1, "drop_last": job.n_samples // job.batch_size}.get(found.code)
    if updates is not None and updates != twin:
        text += (f"; it makes {updates} update{'s' * (updates != 1)} per epoch where the twin "
                 f"makes {twin}: {NOT_LIKE_FOR_LIKE}")
    return text
