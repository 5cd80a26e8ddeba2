"""chorus: find coordinated networks of accounts (troll armies) in social-media data.

The same C++ engine as the ``chorus`` command line, from Python: numpy arrays and data frames in,
numpy arrays and data frames out.

    >>> import chorus
    >>> inp = chorus.ingest(posts_df)                  # posts -> activity, content, co-actions
    >>> res = chorus.detect(input=inp, view="both")    # all pairs, exact; components
    >>> res.clusters.head(); res.edges; res.labels
    >>> res.save("results.h5"); res.export("gexf", "network.gexf"); res.report("report.html")

Or on your own vectors: ``chorus.detect(embedding, activity, ids)``. See ``help(chorus.detect)``.
Errors are :class:`chorus.Error` subclasses carrying the CLI's messages: :class:`InputError`,
:class:`LimitError`, :class:`Interrupted` (Ctrl-C; also a KeyboardInterrupt),
:class:`RuntimeFailure`.
"""
from ._core import Error, InputError, Interrupted, LimitError, RuntimeFailure, __version__
from ._jobs import Input, detect, generate, generate_posts, ingest, open_input
from ._results import Result, open_results

__all__ = ["Error", "InputError", "LimitError", "Interrupted", "RuntimeFailure", "Input",
           "Result", "detect", "ingest", "generate", "generate_posts", "open_input",
           "open_results", "cuda_available", "__version__"]


def cuda_available() -> bool:
    """True when a CUDA device is visible (``backend="cuda"`` also needs the plugin, built with
    ``CHORUS_CUDA=ON pip install .``)."""
    from ._core import cuda_device_count

    return bool(cuda_device_count() > 0)
