"""Nielsen's chapter-1 network: 784-30-10 sigmoid, quadratic cost, SGD, batch 10, lr 3.0.

Michael Nielsen, "Neural Networks and Deep Learning", chapter 1, reaches about 95 % test
accuracy. Here the same network, cost C = (1/2n) Σ_x ||y(x) − a||² and update rule
w → w − (η/m) Σ ∂C_x/∂w are expressed with tinygrad_mlp: F.quadratic_loss is exactly
(1/2m) Σ ||a − y||² over the mini-batch, so plain SGD with lr = η is his update.

    python examples/nielsen_network.py                 # 30 epochs, ~1 minute
    python examples/nielsen_network.py --epochs 1 --limit 10000
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp import nn, optim
from tinygrad_mlp.data import DataLoader, load_mnist


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--eta", type=float, default=3.0, help="learning rate η")
    parser.add_argument("--limit", type=int, default=None, help="use only N training images")
    parser.add_argument("--data", default=None, help="MNIST folder")
    args = parser.parse_args(argv)

    x_train, y_train, x_test, y_test = load_mnist(args.data)
    x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    targets = np.eye(10, dtype=np.float32)          # digit d -> the unit vector e_d

    tg.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 30), nn.Sigmoid(), nn.Linear(30, 10), nn.Sigmoid())
    for p in net.parameters():                      # Nielsen initialises with N(0, 1)
        nn.init.normal_(p, 0.0, 1.0)
    opt = optim.SGD(net.parameters(), lr=args.eta)

    for epoch in range(args.epochs):
        for x, y in DataLoader(x_train, y_train, 10, shuffle=True, seed=epoch):
            opt.zero_grad()
            cost = F.quadratic_loss(net(tg.Tensor(x)), targets[y])
            cost.backward()
            opt.step()
        with tg.no_grad():
            correct = int((net(tg.Tensor(x_test)).data.argmax(1) == y_test).sum())
        print(f"Epoch {epoch}: {correct} / {len(y_test)}")
    return correct / len(y_test)


if __name__ == "__main__":
    main()
