"""Reference values for spec/optim_spec.lua's model cases, from PyTorch.

    /usr/bin/python3 spec/reference/model_optim_torch.py > spec/reference/model_optim_torch.lua

Problem: nn.Sequential(Linear(2, 3), ReLU(), Linear(3, 1)) with the weights
below (Linear.weight's layout, as Torchlet's W), four points X with targets
y, loss mse(model(X)[:, 0], y).  For each optimizer configuration, three
steps of zero_grad(); loss.backward(); step(); the parameters after the
third step are printed flat in parameters() order (W1, b1, W2, b2), float64
with 17 significant digits.  Every configuration has weight decay, so a
parameter's gradient and its value both matter.
"""
import torch

torch.set_default_dtype(torch.float64)

W1 = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]
B1 = [0.01, -0.02, 0.03]
W2 = [[0.7, -0.8, 0.9]]
B2 = [-0.1]
X = [[0.5, -1.0], [1.5, 0.25], [-0.75, 0.8], [0.2, 0.3]]
Y = [1.0, -1.0, 0.5, 0.0]

CASES = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.1, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "lr_decay": 0.5}),
    ("Adam", {"lr": 0.1, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.1, "weight_decay": 0.5}),
]


def lua_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


print("return {")
for name, opts in CASES:
    l1, l2 = torch.nn.Linear(2, 3), torch.nn.Linear(3, 1)
    with torch.no_grad():
        l1.weight.copy_(torch.tensor(W1)); l1.bias.copy_(torch.tensor(B1))
        l2.weight.copy_(torch.tensor(W2)); l2.bias.copy_(torch.tensor(B2))
    model = torch.nn.Sequential(l1, torch.nn.ReLU(), l2)
    opt = getattr(torch.optim, name)(model.parameters(), **opts)
    x, y = torch.tensor(X), torch.tensor(Y)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x)[:, 0], y).backward()
        opt.step()
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    o = ", ".join("%s = %s" % (k, lua_value(v)) for k, v in opts.items())
    print('  {"%s", {%s},\n   {%s}},' % (name, o, ", ".join("%.17g" % v for v in flat.tolist())))
print("}")
