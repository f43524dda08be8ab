"""The seed's network, written out: 784 inputs, a sigmoid hidden layer, 10 outputs.

Run ``python examples/mnist_mlp.py`` (about 15 s, ~98 % test accuracy) or, for a quick
look, ``python examples/mnist_mlp.py --epochs 1 --limit 5000``.
"""

from __future__ import annotations

import argparse
import math

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp import nn, optim
from tinygrad_mlp.data import DataLoader, load_mnist


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--limit", type=int, default=None, help="use only N training images")
    parser.add_argument("--data", default=None, help="MNIST folder")
    args = parser.parse_args(argv)

    x_train, y_train, x_test, y_test = load_mnist(args.data)
    x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    tg.manual_seed(0)

    model = nn.Sequential(                # 784 -> hidden (sigmoid) -> 10 (read via softmax)
        nn.Linear(784, args.hidden), nn.Sigmoid(),
        nn.Linear(args.hidden, 10),
    )
    opt = optim.Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(x_train, y_train, args.batch_size, shuffle=True, seed=0)
    total, step = args.epochs * len(loader), 0

    for epoch in range(args.epochs):
        for x, y in loader:
            opt.param_groups[0]["lr"] = 0.5 * args.lr * (1 + math.cos(math.pi * step / total))
            opt.zero_grad()                       # 1. forget the previous gradients
            logits = model(tg.Tensor(x))          # 2. forward pass (records the graph)
            loss = F.cross_entropy(logits, y)     # 3. the cost of this mini-batch
            loss.backward()                       # 4. backpropagation
            opt.step()                            # 5. gradient-descent update
            step += 1
        with tg.no_grad():
            accuracy = float((model(tg.Tensor(x_test)).data.argmax(1) == y_test).mean())
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}, "
              f"test accuracy {100 * accuracy:.2f}%")
    return accuracy


if __name__ == "__main__":
    main()
