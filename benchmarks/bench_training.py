"""Training throughput and peak memory of the cohen2018 S2CNN and the planar baseline.

Each model trains in its own fresh process (so peak memory is its own) on random
spheres of bandwidth 30 at batch 32: forward, cross-entropy, backward and an
Adam step, as in training. Prints spheres per second, milliseconds per step,
peak resident memory and its increase over the process before the model was
built, and the ratio of each model's throughput to the planar baseline's.

``--clock cpu`` times each step by the process's CPU time instead of the wall
clock: on a machine shared with other work, one thread's CPU time is close to
what the step takes on an idle core, where wall time is not (use it with
``--threads 1``: the CPU time of several threads adds up).

    python benchmarks/bench_training.py
    python benchmarks/bench_training.py --batch-size 32 --steps 20 --threads 2
    python benchmarks/bench_training.py --threads 1 --clock cpu
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

MODELS = ("s2cnn-cohen2018", "planar-cnn")
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def measure(
    name: str, batch_size: int, steps: int, warmup: int, threads: int | None, clock: str
) -> dict:
    """Run in a child process: train ``name`` on random data and time it."""
    import resource

    import torch

    from equisphere.models import count_parameters
    from equisphere.training.config import config_from_dict
    from equisphere.training.module import SphericalTask

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    signal = torch.rand(batch_size, 1, 60, 60)
    labels = torch.randint(0, 10, (batch_size,))
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    task = SphericalTask(config_from_dict({"model": {"name": name}, "data": {"bandwidth": 30}}))
    task.log = lambda *args, **kwargs: None  # no Trainer: skip Lightning's logging
    optimizer = task.configure_optimizers()
    times = []
    now = CLOCKS[clock]
    for step in range(warmup + steps):
        start = now()
        optimizer.zero_grad()
        loss = task.training_step((signal, labels), step)
        loss.backward()
        optimizer.step()
        if step >= warmup:
            times.append(now() - start)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    median = sorted(times)[len(times) // 2]
    return {
        "model": name,
        "parameters": count_parameters(task.model),
        "threads": torch.get_num_threads(),
        "ms_per_step": 1000 * median,
        "spheres_per_second": batch_size / median,
        "peak_rss_mib": peak_kib / 1024,
        "peak_increase_mib": (peak_kib - baseline_kib) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time or this process's CPU time",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = measure(
            args.child, args.batch_size, args.steps, args.warmup, args.threads, args.clock
        )
        print(json.dumps(result))
        return

    rows = []
    for name in args.models:
        command = [
            sys.executable,
            __file__,
            "--child",
            name,
            "--batch-size",
            str(args.batch_size),
            "--steps",
            str(args.steps),
            "--warmup",
            str(args.warmup),
            "--clock",
            args.clock,
        ]
        if args.threads:
            command += ["--threads", str(args.threads)]
        completed = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(json.loads(completed.stdout.strip().splitlines()[-1]))

    reference = next((r for r in rows if r["model"] == "planar-cnn"), rows[-1])
    print(
        f"training at batch {args.batch_size}, bandwidth 30 (60 x 60 grid), "
        f"{rows[0]['threads']} threads, median of {args.steps} steps, {args.clock} clock"
    )
    print(
        f"{'model':<18} {'params':>8} {'ms/step':>9} {'spheres/s':>10} {'vs planar':>10} "
        f"{'peak MiB':>9} {'+MiB':>7}"
    )
    for row in rows:
        ratio = row["spheres_per_second"] / reference["spheres_per_second"]
        print(
            f"{row['model']:<18} {row['parameters']:>8,} {row['ms_per_step']:>9.1f} "
            f"{row['spheres_per_second']:>10.1f} {ratio:>9.2f}x "
            f"{row['peak_rss_mib']:>9.0f} {row['peak_increase_mib']:>7.0f}"
        )


if __name__ == "__main__":
    main()
