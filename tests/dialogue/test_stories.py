"""Rasa's own test stories (tests/stories/): every flow in both languages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import MODEL

pytestmark = pytest.mark.rasa

REPO = Path(__file__).resolve().parents[2]


def test_every_test_story_passes(tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: `make test` trains it first.")
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "rasa"),
            "test",
            "core",
            "--model",
            str(MODEL),
            "--stories",
            "tests/stories",
            "--out",
            str(tmp_path),
            "--fail-on-prediction-errors",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    failed = tmp_path / "failed_test_stories.yml"
    failures = failed.read_text() if failed.exists() else ""

    assert result.returncode == 0, (
        failures or result.stdout[-4000:] + result.stderr[-4000:]
    )
    assert "story:" not in failures
