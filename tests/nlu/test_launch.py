"""nlu.launch: the Rasa server and the action server keep what they loaded at start-up
out of the garbage collector's full passes (the tests' servers run through it)."""

import re
from pathlib import Path

from tests.support.servers import RasaStack

FROZEN = re.compile(r"Start-up objects kept out of the garbage collector: (\d+)")


def frozen_objects(log: str) -> int:
    """The count the server logged when it froze, or 0 when it never did."""
    found = FROZEN.search(log)
    return int(found[1]) if found else 0


def test_the_rasa_server_freezes_after_loading_the_model(rasa_stack: RasaStack) -> None:
    log = rasa_stack.rasa.log_path.read_text(errors="replace")
    assert log.index("Rasa server is up and running") < log.index("kept out of")
    # TensorFlow and the trained model: several hundred thousand objects here.
    assert frozen_objects(log) > 100_000


def test_the_action_server_freezes_once_started(rasa_stack: RasaStack) -> None:
    log = rasa_stack.actions.log_path.read_text(errors="replace")
    assert frozen_objects(log) > 100_000


def test_the_action_server_does_not_load_tensorflow(rasa_stack: RasaStack) -> None:
    # The launcher imports only the server it starts: Rasa's would bring TensorFlow
    # (about 400 MiB) into the action server.
    maps = Path(f"/proc/{rasa_stack.actions.pid}/maps").read_text()
    assert "tensorflow" not in maps
    assert "tensorflow" in Path(f"/proc/{rasa_stack.rasa.pid}/maps").read_text()
