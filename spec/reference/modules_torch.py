"""Reference values for spec/modules_spec.lua, from PyTorch 1.13 itself.

    /usr/bin/python3 spec/reference/modules_torch.py > spec/reference/modules_torch.lua

Activations (torch.nn.ReLU, LeakyReLU(0.1), Tanh, Sigmoid, GELU (exact, erf
form)): value and derivative at each point.  A model Linear(3, 2), GELU,
Linear(2, 1) with the weights below, on a batch of two rows: its output and
the gradients of output.sum() for the input, W1, b1, W2, b2.  Float64, 17
significant digits.
"""
import torch

torch.set_default_dtype(torch.float64)

POINTS = [-10.0, -3.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.25, 0.5, 1.0, 3.0, 10.0]
ACTS = [("ReLU", torch.nn.ReLU()), ("LeakyReLU", torch.nn.LeakyReLU(0.1)),
        ("Tanh", torch.nn.Tanh()), ("Sigmoid", torch.nn.Sigmoid()),
        ("GELU", torch.nn.GELU())]

W1 = [[0.5, -0.25, 0.75], [-1.0, 0.125, 0.375]]
B1 = [0.1, -0.2]
W2 = [[0.8, -0.6]]
B2 = [0.05]
X = [[1.0, 2.0, -0.5], [-1.5, 0.25, 3.0]]


def num(v):
    return repr(float(v))


def table(t):
    if isinstance(t, list):
        return "{" + ", ".join(table(v) for v in t) + "}"
    return num(t)


print("-- Recorded by spec/reference/modules_torch.py (PyTorch %s); do not edit." % torch.__version__)
print("return {")
print("  points = %s," % table(POINTS))
print("  activations = {")
for name, f in ACTS:
    x = torch.tensor(POINTS, requires_grad=True)
    y = f(x)
    y.sum().backward()
    print("    %s = {value = %s, grad = %s}," % (name, table(y.tolist()), table(x.grad.tolist())))
print("  },")
l1, l2 = torch.nn.Linear(3, 2), torch.nn.Linear(2, 1)
with torch.no_grad():
    l1.weight.copy_(torch.tensor(W1)); l1.bias.copy_(torch.tensor(B1))
    l2.weight.copy_(torch.tensor(W2)); l2.bias.copy_(torch.tensor(B2))
model = torch.nn.Sequential(l1, torch.nn.GELU(), l2)
x = torch.tensor(X, requires_grad=True)
out = model(x)
out.sum().backward()
print("  model = {W1 = %s, b1 = %s, W2 = %s, b2 = %s, X = %s," % (
    table(W1), table(B1), table(W2), table(B2), table(X)))
print("    out = %s, dX = %s," % (table(out.tolist()), table(x.grad.tolist())))
print("    dW1 = %s, db1 = %s, dW2 = %s, db2 = %s}," % (
    table(l1.weight.grad.tolist()), table(l1.bias.grad.tolist()),
    table(l2.weight.grad.tolist()), table(l2.bias.grad.tolist())))
print("}")
