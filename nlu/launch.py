"""The ``rasa`` command, for the Rasa server and the action server we deploy.

``python -m nlu.launch run --enable-api ...`` and
``python -m nlu.launch run actions ...`` take the same arguments as ``rasa run`` and
``rasa run actions``. The one difference:
once a server has started, everything loaded so far (TensorFlow, the trained model,
the libraries, our actions) moves out of reach of the garbage collector's full passes
(``gc.freeze()``). Those objects live as long as the process. Without this, each full
collection walked all of them while the server answered nobody: 415 to 515 ms in the
Rasa server under load and 65 to 90 ms in the action server (``bench/gateway.py``,
timed with a ``gc.callbacks`` hook).

Sanic runs each server in this process (one worker), so a listener on the Sanic app
reaches it. Rasa 3.6 and rasa-sdk build their app in ``rasa.core.run.configure_app``
and ``rasa_sdk.endpoint.create_app``: this module wraps both to add the listener, and
is tied to those versions (``requirements.lock``).

A model loaded later through the HTTP API (``PUT /model``) is not frozen; the model
frozen at start-up then stays in memory. The gateway never replaces the model: a new
model means a restart (``make run``).
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


def install() -> None:
    """Make the Rasa server and the action server freeze once started."""
    import rasa.core.run
    import rasa_sdk.endpoint

    rasa.core.run.configure_app = _with_freeze(rasa.core.run.configure_app)
    rasa_sdk.endpoint.create_app = _with_freeze(rasa_sdk.endpoint.create_app)


def main() -> None:
    """Run the ``rasa`` command line with the arguments given."""
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
