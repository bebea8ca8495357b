"""Train the tiny planar CNN with 2 CPU processes (DDP, gloo); run by test_ddp.py.

Each process writes what it saw to OUT/rank<k>.json: its rank, the backend, the
number of training samples it was given, and a checksum of its final weights.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning as L
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_spheres import TinyDataModule  # noqa: E402

from equisphere.training.config import config_from_dict  # noqa: E402
from equisphere.training.trainer import train  # noqa: E402


class Record(L.Callback):
    """Counts the samples this process trains on; writes a report at the end of fitting."""

    def __init__(self, out: Path) -> None:
        self.out, self.samples = out, 0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self.samples += batch[0].shape[0]

    def on_fit_end(self, trainer, module) -> None:
        checksum = sum(float(p.double().sum()) for p in module.parameters())
        report = {
            "rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "backend": torch.distributed.get_backend(),
            "samples": self.samples,
            "checksum": checksum,
        }
        (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(report))


def main(out: Path) -> None:
    config = config_from_dict(
        {
            "model": {"name": "planar-cnn", "options": {"width": 4}},
            "data": {"bandwidth": 4},
            "trainer": {
                "name": "ddp",
                "runs_dir": str(out / "runs"),
                "max_epochs": 2,
                "accelerator": "cpu",
                "devices": 2,
                "strategy": "ddp",
                "progress_bar": False,
                "log_every_n_steps": 1,
            },
        }
    )
    result = train(
        config, datamodule=TinyDataModule(size=64, batch_size=8), callbacks=[Record(out)]
    )
    if result.trainer.global_rank == 0:
        (out / "run_dir.txt").write_text(str(result.run_dir))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
