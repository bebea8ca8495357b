"""How fast the cohen2018 S2CNN learns at a few learning rates, in a short fixed budget.

Trains the Cohen et al. stack (bandwidth 16 -> 10 -> 6, 20 and 40 channels) with
Adam at batch 32 on upright spheres of the built-in Fashion-MNIST subset, and
prints the accuracy on upright test spheres after each epoch. Every learning rate
starts from the same weights and sees the batches in the same order. This is
the measurement behind the demo's learning rate (1e-2 rather than the 5e-3 of
configs/s2cnn_cohen2018.yaml).

    python benchmarks/s2cnn_learning_rate.py
    python benchmarks/s2cnn_learning_rate.py --lr 5e-3 1e-2 --epochs 3 --train-size 1600
"""

from __future__ import annotations

import argparse
import time

import torch


def spheres(split: str, size: int, bandwidth: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All spheres and labels of an upright (NR) set, stacked."""
    from equisphere.data import make_spherical_classification

    data = make_spherical_classification(
        split, bandwidth=bandwidth, rotation="NR", seed=0, size=size
    )
    signals, labels = zip(*(data[i] for i in range(len(data))), strict=True)
    return torch.stack(signals), torch.as_tensor(labels)


def accuracies(lr: float, args: argparse.Namespace, train, test) -> list[float]:
    """Test accuracy after each epoch of training at ``lr``."""
    from equisphere.models.s2cnn import S2CNNClassifier

    torch.manual_seed(0)
    model = S2CNNClassifier(bandwidths=(args.bandwidth, 10, 6), channels=(20, 40))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(0)
    (signals, labels), (test_signals, test_labels) = train, test
    result = []
    for _ in range(args.epochs):
        model.train()
        for batch in torch.randperm(len(signals), generator=order).split(args.batch_size):
            loss = torch.nn.functional.cross_entropy(model(signals[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            predicted = model(test_signals).argmax(1)
        result.append(float((predicted == test_labels).float().mean()))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, nargs="+", default=[5e-3, 1e-2, 2e-2, 5e-2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=1600)
    parser.add_argument("--test-size", type=int, default=500)
    parser.add_argument("--bandwidth", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    train = spheres("train", args.train_size, args.bandwidth)
    test = spheres("test", args.test_size, args.bandwidth)
    print(
        f"cohen2018 S2CNN, bandwidth {args.bandwidth}, {args.train_size} upright training "
        f"spheres, batch {args.batch_size}, Adam; accuracy on {args.test_size} upright test "
        f"spheres after each epoch"
    )
    for lr in args.lr:
        start = time.perf_counter()
        result = accuracies(lr, args, train, test)
        epochs = "  ".join(f"{100 * a:5.1f}%" for a in result)
        print(f"lr {lr:<8g} {epochs}   ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
