"""Running the compleak-tf command in a subprocess, as a user would."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "compleak_tf.cli.main"]


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """Runs `compleak-tf ARGS` in `cwd`; TFDS looks for data there, so nothing is found."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TFDS_DATA_DIR": str(cwd or Path.cwd())}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)
