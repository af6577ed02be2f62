"""The edge table of spec/edges_spec.lua, from PyTorch itself.

    /usr/bin/python3 spec/reference/edges.py > spec/reference/edges.lua

For every op Torchlet has, at the edges of float64 (0, -0, +-1, 2, 0.5,
+-inf, nan, the exponents PyTorch treats specially, ties for max), records
PyTorch 1.13's value and the gradient each input receives when the result's
gradient is 1, inf and nan (the last two show where PyTorch masks: a zero
derivative gives 0 there, or 0 * inf = nan).  Scalars are 0-dimensional
tensors; the batched (1-d) forms are computed too and must agree, since the
spec runs every row both as scalar Elements and as arrays.

Where Torchlet deliberately differs (doc/api.md, "Where Torchlet differs from
PyTorch"), the row carries `differs` (the reason), Torchlet's documented
result in the main fields, and PyTorch's in `torch`.  Those results are
computed here with the same libm functions and the same order of
operations as core/ops.c, so they are exact.
"""
import math
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

INF, NAN = math.inf, math.nan
SEEDS = [1.0, INF, NAN]
POINTS = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, INF, -INF, NAN]
# exponents x ** k computes with kernels of their own (sqrt, x*x ...)
POW_K = POINTS + [3.0, -2.0, -0.5, 1.5]
UNARY_EXTRA = {
    "exp": [709.8, -745.2],
    "log": [4.0, 5e-324],
    "sqrt": [4.0],
    "tanh": [20.0, -20.0],
    "sigmoid": [40.0, -40.0, -720.0, 710.0],
    "softplus": [20.0, 20.5, 30.0, -30.0, 800.0, -800.0],
}

UNARY = {
    "neg": lambda x: -x,
    "exp": torch.exp,
    "log": torch.log,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "sin": torch.sin,
    "cos": torch.cos,
    "softplus": F.softplus,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": torch.pow,
}
RIGHT_K = {   # a . k
    "add": lambda a, k: a + k,
    "sub": lambda a, k: a - k,
    "mul": lambda a, k: a * k,
    "div": lambda a, k: a / k,
    "pow": lambda a, k: a ** k,
}
LEFT_K = {    # k . a
    "sub": lambda a, k: k - a,
    "div": lambda a, k: k / a,
    "pow": lambda a, k: k ** a,
}


# {=====================================================================
# Torchlet's documented differences, computed as core/ops.c does
# ======================================================================

def sigmoid_c(a):
    if a >= 0:
        return 1 / (1 + math.exp(-a))
    e = math.exp(a)
    return e / (1 + e)


def softplus_c(a, seed):
    if math.isnan(a):
        value = NAN
    else:
        value = (a if a > 0 else 0.0) + math.log1p(math.exp(-abs(a)))
    return value, [seed * sigmoid_c(a)]


def rdiv_c(a, k, seed):
    try:
        value = k / a
    except ZeroDivisionError:
        value = NAN if k == 0 or math.isnan(k) else math.copysign(INF, k) * math.copysign(1, a)
    try:
        q = value / a
    except ZeroDivisionError:
        q = NAN if value == 0 or math.isnan(value) else math.copysign(INF, value) * math.copysign(1, a)
    return value, [-seed * q]


def sigmoid_row(a, seed):
    y = sigmoid_c(a)
    return y, [seed * (1 - y) * y]


# Why each difference exists, as doc/api.md lists them.
DIFFERS = {
    ("unary", "sigmoid"): ("sigmoid: e^x / (1 + e^x) below 0, so no overflow to 0 below -709",
                           lambda a, b, s: sigmoid_row(a, s)),
    ("unary", "softplus"): ("softplus: log(1 + e^x) exactly, no switch to x above 20",
                            lambda a, b, s: softplus_c(a, s)),
    ("left_k", "div"): ("k / x: a true division, not x.reciprocal() * k",
                        lambda a, k, s: rdiv_c(a, k, s)),
}

DIFFERS_MAX_ZERO = "max: of tied 0 and -0 over everything, the first"

# }=====================================================================


def same(expected, actual):
    """Equal as the spec compares: nan as nan, inf and zeros exactly (the
    sign of a zero too), other numbers within 4 ulp."""
    if math.isnan(expected):
        return math.isnan(actual)
    if math.isinf(expected) or expected == 0:
        return actual == expected and math.copysign(1, actual) == math.copysign(1, expected)
    return abs(actual - expected) <= 4 * sys.float_info.epsilon * abs(expected)


def identical(x, y):
    """The same float64, bit for bit (nan as nan)."""
    return (math.isnan(x) and math.isnan(y)) or (x == y and math.copysign(1, x) == math.copysign(1, y))


def run(kind, f, a, b, seed, batched=False):
    """Value and input gradients of one row at one seed."""
    shape = (8,) if batched else ()
    ta = torch.full(shape, a, requires_grad=True)
    tb = None
    if kind == "binary":
        tb = torch.full(shape, b, requires_grad=True)
        y = f(ta, tb)
    elif kind == "unary":
        y = f(ta)
    else:
        y = f(ta, b)
    y.backward(torch.full(shape, seed))
    first = lambda t: t.reshape(-1)[0].item()
    grads = [first(ta.grad)]
    if tb is not None:
        grads.append(first(tb.grad))
    return first(y.detach()), grads


def lua(v):
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(lua(x) for x in v) + "}"
    if isinstance(v, str):
        return '"' + v + '"'
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0 and math.copysign(1, v) < 0:
        return "nz"
    return repr(float(v))


# Pairs (a, k) beyond the grid: where a true division and PyTorch's
# reciprocal-then-multiply round differently.
EXTRA_PAIRS = {("left_k", "div"): [(10.0, 3.0), (3.0, 1.0)]}


def elementwise_rows(kind, table, firsts, seconds):
    out = []
    for name, f in table.items():
        pairs = [(a, b) for a in firsts(name) for b in seconds(name)]
        for a, b in pairs + EXTRA_PAIRS.get((kind, name), []):
            value, grads = None, []
            for seed in SEEDS:
                v, g = run(kind, f, a, b, seed)
                vb, gb = run(kind, f, a, b, seed, batched=True)
                if not (same(v, vb) and all(same(x, y) for x, y in zip(g, gb))):
                    print("warning: batched %s %s(%r, %r) seed %r: %r %r against %r %r"
                          % (kind, name, a, b, seed, v, g, vb, gb), file=sys.stderr)
                value = v
                grads.append(g)
            row = {"op": name, "a": a, "value": value, "grads": grads}
            if b is not None:
                row["b"] = b
            why = DIFFERS.get((kind, name))
            if why is not None:
                mine = [why[1](a, b, s) for s in SEEDS]
                ok = identical(mine[0][0], value) and all(
                    identical(x, y) for m, g in zip(mine, grads) for x, y in zip(m[1], g))
                if not ok:
                    row["torch"] = [value, grads]
                    row["value"] = mine[0][0]
                    row["grads"] = [m[1] for m in mine]
                    row["differs"] = why[0]
            out.append(row)
    return out


def reduction_rows():
    cases = [
        [1.0, 3.0, 3.0], [3.0, 3.0, 3.0], [1.0, NAN, NAN], [NAN, 1.0, NAN],
        [0.0, -0.0], [-0.0, 0.0], [INF, INF], [-INF, -INF, -INF], [INF, -INF],
        [NAN], [2.0, INF, NAN], [-1.0, -2.0], [1.0, 2.0, 0.5],
    ]
    mats = [
        [[1.0, 3.0, 3.0], [NAN, 2.0, NAN]],
        [[0.0, -0.0], [-0.0, 0.0]],
        [[INF, 1.0], [INF, NAN]],
        [[-INF, -INF], [2.0, 2.0]],
    ]
    ops = {
        "sum": lambda t, d: t.sum() if d is None else t.sum(d),
        "mean": lambda t, d: t.mean() if d is None else t.mean(d),
        "max": lambda t, d: t.max() if d is None else t.max(d).values,
    }
    rows = []
    for name, f in ops.items():
        for x, axis in [(c, None) for c in cases] + [(m, d) for m in mats for d in (0, 1)]:
            grads, value = [], None
            for seed in SEEDS:
                t = torch.tensor(x, requires_grad=True)
                y = f(t, axis)
                y.backward(torch.full(y.shape, seed))
                value = y.detach().tolist()
                grads.append(t.grad.tolist())
            row = {"op": name, "x": x, "value": value, "grads": grads}
            if axis is not None:
                row["axis"] = float(axis + 1)
            if name == "max" and axis is None and value == 0:
                # which of tied 0 and -0 PyTorch returns depends on its
                # vector lanes; Torchlet returns the first
                first = next(v for v in x if v == 0)
                if not identical(first, value):
                    row["torch"] = [value, grads]
                    row["value"] = first
                    row["differs"] = DIFFERS_MAX_ZERO
            rows.append(row)
    return rows


def matmul_rows():
    cases = [
        ([[0.0, INF]], [[1.0], [0.0]]),
        ([[1.0, 2.0]], [[INF], [0.0]]),
        ([[NAN, 0.0], [1.0, 2.0]], [[0.0, 1.0], [3.0, -0.0]]),
        ([1.0, -INF], [[0.0, 1.0], [1.0, 0.0]]),
        ([[2.0, 0.0], [0.0, 2.0]], [-0.0, INF]),
        ([0.0, 0.0], [INF, NAN]),
    ]
    rows = []
    for a, b in cases:
        grads, value = [], None
        for seed in SEEDS:
            ta = torch.tensor(a, requires_grad=True)
            tb = torch.tensor(b, requires_grad=True)
            y = ta @ tb
            y.backward(torch.full(y.shape, seed))
            value = y.detach().tolist()
            grads.append([ta.grad.tolist(), tb.grad.tolist()])
        rows.append({"a": a, "b": b, "value": value, "grads": grads})
    return rows


def emit(name, rows, keys):
    print("  %s = {" % name)
    for row in rows:
        fields = ["%s = %s" % (k, lua(row[k])) for k in keys if k in row]
        print("    {" + ", ".join(fields) + "},")
    print("  },")


def main():
    print("-- The edge table of spec/edges_spec.lua: generated by")
    print("-- spec/reference/edges.py from PyTorch %s (float64); do not edit." % torch.__version__)
    print("-- grads[s] = what each input receives at the result's gradient seeds[s].")
    # -0 as a variable: Lua 5.1 keeps one constant for 0.0 and -0.0 (equal
    # as table keys) in a chunk, so a literal -0.0 there reads as 0.0.
    print("local inf, nan = math.huge, 0 / 0")
    print("local nz = -1 / inf")
    print("return {")
    print("  torch = %s," % lua(torch.__version__))
    print("  seeds = %s," % lua(SEEDS))
    keys = ["op", "a", "b", "value", "grads", "differs", "torch"]
    emit("unary", elementwise_rows(
        "unary", UNARY, lambda n: POINTS + UNARY_EXTRA.get(n, []), lambda n: [None]), keys)
    emit("binary", elementwise_rows(
        "binary", BINARY, lambda n: POINTS, lambda n: POINTS), keys)
    emit("right_k", elementwise_rows(
        "right_k", RIGHT_K, lambda n: POINTS, lambda n: POW_K if n == "pow" else POINTS), keys)
    emit("left_k", elementwise_rows(
        "left_k", LEFT_K, lambda n: POINTS, lambda n: POINTS), keys)
    emit("reductions", reduction_rows(),
         ["op", "x", "axis", "value", "grads", "differs", "torch"])
    emit("matmul", matmul_rows(), ["a", "b", "value", "grads"])
    print("}")


if __name__ == "__main__":
    main()
