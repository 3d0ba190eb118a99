"""Check a user's own network class against the PyTorch twin: what ``scratchnet check``
runs.

- ``loader``: loading the user's class by its spec; ``session`` and ``worker``: the class
  runs in a worker process (``protocol``: what crosses), so a crash, an exit or a hang
  becomes a line of the card; ``user`` and ``view``: its values read as the checks
  compare them (W always (fan_in, fan_out));
- ``checks``: the checks, one function each, in one registry; ``runner``: ``check_model``;
- ``replay`` and ``diagnose``: the twin replayed in float64 under variants (a loss
  convention, a batch order, momentum ...), and the finding of the one that reproduces
  the user's numbers; ``card``: the card as text and as data.

The protocol (the seed's, and ``NeuralNetwork``'s): ``Class(layer_sizes, activations,
seed=...)`` (``seed``, ``precision_config`` and ``loss`` passed only where the
constructor takes them), ``fit(X, y, epochs, alpha, batch_size, seed)`` with integer
labels, ``forward(X)``, ``get_weights()`` and ``set_weights(list of (W, b))``;
``predict`` and ``loss_and_gradients`` are optional. W is (fan_in, fan_out);
``layout="out_in"`` reads and writes a class that stores (fan_out, fan_in).
"""
from .card import CODES, Line, as_data, format_line, summarize_output, verdict
from .checks import CHECKS, FLOAT32_ROUNDING, TOLERANCE
from .loader import LAYOUTS, CheckError, build_user_class, load_class
from .runner import TIME_LIMIT, Card, Settings, check_model, labels, make_settings, reference_name

__all__ = ["CHECKS", "CODES", "Card", "CheckError", "FLOAT32_ROUNDING", "LAYOUTS", "Line",
           "Settings", "TIME_LIMIT", "TOLERANCE", "as_data", "build_user_class", "check_model",
           "format_line", "labels", "load_class", "make_settings", "reference_name",
           "summarize_output", "verdict"]
