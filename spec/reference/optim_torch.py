"""Reference values for spec/optim_spec.lua, from PyTorch itself.

    /usr/bin/python3 spec/reference/optim_torch.py   (Debian: python3-torch)

Problem: two parameters a = 0.5, b = -1.5 and the loss
f(a, b) = (a*b - 1)^2 + 0.5*a^2 + sin(b), whose gradient changes at every
step.  For each optimizer configuration, three steps of
zero_grad(); f.backward(); step(); and the parameters after each step are
printed as a Lua table, in float64 with 17 significant digits.
"""
import math
import torch

torch.set_default_dtype(torch.float64)

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1,
                 "momentum": 0.5, "centered": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.5, "weight_decay": 0.1,
                 "initial_accumulator_value": 0.2, "eps": 1e-8}),
    ("Adam", {"lr": 0.1}),
    ("Adam", {"lr": 0.1, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1,
              "amsgrad": True}),
    ("AdamW", {"lr": 0.1}),
    ("AdamW", {"lr": 0.1, "betas": (0.5, 0.7), "weight_decay": 0.5, "amsgrad": True}),
]


def f(a, b):
    return (a * b - 1) ** 2 + 0.5 * a ** 2 + torch.sin(b)


def lua_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return "{" + ", ".join(lua_value(x) for x in v) + "}"
    return repr(v)


print("return {")
for name, opts in CASES:
    a = torch.tensor(0.5, requires_grad=True)
    b = torch.tensor(-1.5, requires_grad=True)
    opt = getattr(torch.optim, name)([a, b], **opts)
    steps = []
    for _ in range(3):
        opt.zero_grad()
        f(a, b).backward()
        opt.step()
        steps.append("{%.17g, %.17g}" % (a.item(), b.item()))
    o = ", ".join("%s = %s" % (k, lua_value(v)) for k, v in opts.items())
    print('  {"%s", {%s},\n   {%s}},' % (name, o, ", ".join(steps)))
print("}")
