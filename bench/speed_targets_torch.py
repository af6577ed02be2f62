"""bench/speed_targets_torch.py -- PyTorch's side of bench/speed_targets.lua
(issue 14's targets), run by it as a child process and driven block by
block, so that Torchlet's blocks and PyTorch's alternate in one run.

    python3 bench/speed_targets_torch.py [--control FIFO]

Commands, one a line, come from the named pipe FIFO (stdin without
--control); answers go to stdout:

    run <case> <warmup_s> <block_s> <sample_s>
        -> result <case> <cpu µs>/<wall µs> per step of each sample, tab-separated
    quit

Startup prints "ready <torch version>", or "notorch <reason>" (and exits 0)
when torch cannot be imported.  One thread.  The cases and the block are
those of bench/speed_targets.lua (see there).
"""
import os
import select
import sys
import time

# One thread means OpenBLAS's too: Debian's torch does its float64 and
# float32 matmuls in OpenBLAS, whose own thread pool torch.set_num_threads
# does not reach (a second thread otherwise shows in /proc); read when the
# library loads, so before the import.
os.environ["OPENBLAS_NUM_THREADS"] = "1"

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # this python3 has no torch: say so, the caller tries the next
    print("notorch\t%s" % e, flush=True)
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_torch import mlp, moons_batched_step  # noqa: E402  (one definition of the moons step)

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

DTYPES = {"f64": torch.float64, "f32": torch.float32}


def classes(n, k):
    """Class i (0-based) of a batch: (7 i) mod k, as the Lua side's."""
    return torch.tensor([(i * 7) % k for i in range(n)])


def train_step(nin, nouts, n, dtype):
    """One full cross-entropy + Adam step of MLP(nin, nouts) on a batch of n."""
    torch.manual_seed(1)
    net = mlp(nin, nouts).to(dtype)
    X, y = torch.rand(n, nin, dtype=dtype), classes(n, nouts[-1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        loss = F.cross_entropy(net(X), y)
        # set_to_none: Torchlet's zero_grad semantics (and PyTorch 2.0's
        # default); in 1.13 it is also the faster of the two
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def forward_step(nin, nouts, n, dtype):
    """Forward only, under torch.no_grad(), entered on every call."""
    torch.manual_seed(1)
    net = mlp(nin, nouts).to(dtype)
    X = torch.rand(n, nin, dtype=dtype)

    def step():
        with torch.no_grad():
            net(X)
    return step


MAKERS = {
    "t1": lambda dt: train_step(784, [128, 10], 64, dt),
    "t2": lambda dt: train_step(784, [512, 512, 10], 128, dt),
    "t3_train": lambda dt: train_step(32, [64, 64, 4], 1, dt),
    "t3_forward": lambda dt: forward_step(32, [64, 64, 4], 1, dt),
    "t4": moons_batched_step,
}


def block(step, warmup_s, block_s, sample_s):
    """As bench/speed_targets.lua's block(): warm up (at least 2 steps),
    choose the steps per sample from the warm-up's pace, then take samples
    until block_s has passed (at least 3).  (processor seconds, wall
    seconds) per step of each sample."""
    now, cpu = time.perf_counter, time.process_time
    t0, n = now(), 0
    while n < 2 or now() - t0 < warmup_s:
        step()
        n += 1
    inner = max(1, round(sample_s / ((now() - t0) / n)))
    samples, start = [], now()
    while len(samples) < 3 or now() - start < block_s:
        c, t = cpu(), now()
        for _ in range(inner):
            step()
        samples.append(((cpu() - c) / inner, (now() - t) / inner))
    return samples


def lines(control):
    """The command lines, from the FIFO (or stdin).  The FIFO is opened
    without blocking before "ready" is printed, so the Lua side can open it
    for writing without waiting; end of file before the first command only
    means the writer has not opened it yet."""
    if control is None:
        yield from sys.stdin
        return
    fd = os.open(control, os.O_RDONLY | os.O_NONBLOCK)
    print("ready\t%s" % torch.__version__, flush=True)
    buf, started = b"", False
    while True:
        select.select([fd], [], [])
        chunk = os.read(fd, 4096)
        if not chunk:
            if started:
                return  # the Lua side closed its end (or exited)
            time.sleep(0.01)
            continue
        started = True
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode()


def main():
    argv = sys.argv[1:]
    control = argv[argv.index("--control") + 1] if "--control" in argv else None
    if control is None:
        print("ready\t%s" % torch.__version__, flush=True)
    steps = {}
    for line in lines(control):
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if words[0] != "run" or len(words) != 5:
            print("error\tbad command %r" % line, flush=True)
            continue
        case = words[1]
        if case not in steps:
            name, dt = case.rsplit("_", 1)
            steps[case] = MAKERS[name](DTYPES[dt])
        s = block(steps[case], *map(float, words[2:]))
        times = "\t".join("%.6g/%.6g" % (c * 1e6, w * 1e6) for c, w in s)
        print("result\t%s\t%s" % (case, times), flush=True)


if __name__ == "__main__":
    main()
