"""bench/compare_torch.py -- optional: PyTorch on the rows of bench/rows.lua.

bench/run.lua --compare runs this with the first python3 that can import
torch, and adds its numbers beside Torchlet's; without torch it is
skipped.  One thread, float64, as in shared/reference.  Output lines are
those of the C runner:  row <id> <min> <median> <mean> <amortized> <samples> us

The moons step is batched (one (100, 2) tensor through the network), which
is how PyTorch is used, so it fills the batched row; the other rows mirror
the scalar definitions.
"""
import math
import os
import random
import sys
import time

# one thread, OpenBLAS's pool too (torch.set_num_threads does not reach it;
# bench/speed_targets_torch.py says more)
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import torch  # noqa: E402

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)
QUICK = "--quick" in sys.argv[1:]


def measure(row_id, timed, inner, samples, budget_s):
    """Prints min, median and mean microseconds per run of timed(inner)."""
    if QUICK:
        samples, budget_s = 3, 0
    timed(inner)  # warm-up
    t, start = [], time.perf_counter()
    while len(t) < samples and (len(t) < 3 or time.perf_counter() - start < budget_s):
        t.append(timed(inner) / inner / 1000)
    n, mean = len(t), sum(t) / len(t)
    amortized = median_of_block_means(t)
    t.sort()
    print("row\t%s\t%.6g\t%.6g\t%.6g\t%.6g\t%d\tus"
          % (row_id, t[0], median(t), mean, amortized, n), flush=True)


def median(s):
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def median_of_block_means(t, blocks=10):
    """As bench/harness.lua: blocks of consecutive samples, median of means."""
    size, means, i = max(1, -(-len(t) // blocks)), [], 0
    while i < len(t):
        last = len(t) if len(t) - i < 2 * size else i + size
        means.append(sum(t[i:last]) / (last - i))
        i = last
    return median(sorted(means))


def leaf(v):
    return torch.tensor(v, requires_grad=True)


def binary(op):
    a, b = leaf(2.0), leaf(3.0)

    def timed(n):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            op(a, b)
        return time.perf_counter_ns() - t0
    return timed


def backward(n):
    graphs = []
    for _ in range(n):
        a, b = leaf(2.0), leaf(3.0)
        graphs.append(a * b + a)
    t0 = time.perf_counter_ns()
    for c in graphs:
        c.backward()
    return time.perf_counter_ns() - t0


def mlp(nin, nouts):
    sizes, layers = [nin] + nouts, []
    for i in range(len(nouts)):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i != len(nouts) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def moons_batched_step(dtype=torch.float64):
    """The batched moons training step, as bench/impls.lua's
    moons_step_batched: MLP(2, [16, 16, 1]) on one (100, 2) tensor, hinge
    + 1e-4 L2, SGD (lr 0.1, momentum 0.9).  Returns step(); also used by
    bench/speed_targets_torch.py, so both report the same step."""
    random.seed(1)
    torch.manual_seed(1)
    pts, labels = [], []
    for i in range(100):
        upper, j = i < 50, i % 50
        t = math.pi * j / 49
        x1, x2 = (math.cos(t), math.sin(t)) if upper else (1 - math.cos(t), 0.5 - math.sin(t))
        pts.append([x1 + random.gauss(0, 0.1), x2 + random.gauss(0, 0.1)])
        labels.append(-1.0 if upper else 1.0)
    X, y = torch.tensor(pts, dtype=dtype), torch.tensor(labels, dtype=dtype)
    net = mlp(2, [16, 16, 1]).to(dtype)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    def step():
        scores = net(X).squeeze(1)
        loss = torch.relu(1 - y * scores).mean() + 1e-4 * sum((p * p).sum() for p in net.parameters())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def main():
    torch.manual_seed(1)
    measure("add", binary(lambda a, b: a + b), 1000, 300, 1)
    measure("mul", binary(lambda a, b: a * b), 1000, 300, 1)
    measure("backward", backward, 100, 300, 1)

    model, x = mlp(3, [4, 4, 1]), torch.tensor([1.0, 2.0, 3.0])

    def forward(n):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            model(x)
        return time.perf_counter_ns() - t0

    def mlp_backward(n):
        outs = [model(x) * 1.0 for _ in range(n)]
        t0 = time.perf_counter_ns()
        for out in outs:
            out.backward()
        return time.perf_counter_ns() - t0

    def zero_grad(n):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            model.zero_grad(set_to_none=False)
        return time.perf_counter_ns() - t0

    measure("mlp_forward", forward, 100, 300, 1.5)
    measure("mlp_backward", mlp_backward, 100, 300, 1.5)
    measure("zero_grad", zero_grad, 100, 300, 1)

    step = moons_batched_step()

    def moons_step(n):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            step()
        return time.perf_counter_ns() - t0

    measure("moons_step_batched", moons_step, 1, 500, 3)
    print("meta\ttorch\t%s" % torch.__version__)


if __name__ == "__main__":
    main()
