"""Data parallel training with 2 CPU processes and the gloo backend, through Lightning's DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "ddp_script.py"


def test_two_process_ddp_shares_the_data_and_agrees_on_the_weights(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "RANK", "WORLD_SIZE")}
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    reports = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1)]
    assert [r["rank"] for r in reports] == [0, 1]
    assert all(r["world_size"] == 2 and r["backend"] == "gloo" for r in reports)
    # The distributed sampler splits the 64 training spheres: 32 per process per epoch, 2 epochs.
    assert [r["samples"] for r in reports] == [64, 64]
    # Gradients are averaged, so both processes end with the same weights.
    assert abs(reports[0]["checksum"] - reports[1]["checksum"]) < 1e-9

    # One run folder, written by rank 0 only.
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and str(runs[0]) == (tmp_path / "run_dir.txt").read_text()
    assert (runs[0] / "checkpoints" / "last.ckpt").is_file()
    assert (runs[0] / "logs" / "metrics.csv").is_file()
