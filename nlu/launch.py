"""The ``rasa`` command, for the Rasa server and the action server we deploy.

``python -m nlu.launch run --enable-api ...`` and ``python -m nlu.launch run actions
...`` take the same arguments as ``rasa run`` and ``rasa run actions``, with one
difference: once the server has started, everything loaded so far (the trained model
and TensorFlow, or our actions; the libraries) moves out of reach of the garbage
collector's full passes (``gc.freeze()``). Those objects live as long as the process.
Without this, each full collection walked all of them while the server answered
nobody: 415 to 515 ms in the Rasa server under load, 65 to 90 ms in the action server
(``bench/gateway.py``, timed with a ``gc.callbacks`` hook).

Rasa 3.6 and rasa-sdk build their Sanic app in ``rasa.core.run.configure_app`` and
``rasa_sdk.endpoint.create_app``; this module wraps the one the command uses to add an
``after_server_start`` listener (Sanic runs it in each worker; there is one here). It
is tied to those versions (``requirements.lock``).

A model loaded later through the HTTP API (``PUT /model``) is not frozen, and the one
frozen at start-up stays in memory. The gateway never replaces the model: a new model
means a restart (``make run``).
"""

from __future__ import annotations

import functools
import gc
import logging
import sys
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("nlu.launch")  # also when run as __main__


async def freeze_start_up_objects(_app: Any, _loop: Any) -> None:
    """Sanic ``after_server_start`` listener: the model is loaded by now."""
    gc.collect()  # what start-up left as garbage goes first, not into the freeze
    gc.freeze()
    logger.info(
        "Start-up objects kept out of the garbage collector: %d", gc.get_freeze_count()
    )


def _with_freeze(make_app: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(make_app)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        app = make_app(*args, **kwargs)
        app.register_listener(freeze_start_up_objects, "after_server_start")
        return app

    return wrapper


def install(argv: list[str]) -> None:
    """Make the server that ``argv`` (``rasa``'s arguments) starts freeze once started.

    Only that server's module is imported: Rasa's would load TensorFlow into the
    action server (about 540 MiB of memory instead of 120).
    """
    if argv[:2] == ["run", "actions"]:
        import rasa_sdk.endpoint

        rasa_sdk.endpoint.create_app = _with_freeze(rasa_sdk.endpoint.create_app)
    elif argv[:1] == ["run"]:
        import rasa.core.run

        rasa.core.run.configure_app = _with_freeze(rasa.core.run.configure_app)


def main() -> None:
    """Run the ``rasa`` command line with the arguments given."""
    install(sys.argv[1:])
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
