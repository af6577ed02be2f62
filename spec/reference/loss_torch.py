"""Reference values for spec/loss_spec.lua, from PyTorch 1.13 (float64).

    /usr/bin/python3 spec/reference/loss_torch.py > spec/reference/loss_torch.lua

Each case: the loss's name, scores (a list, or rows of logits), targets
(classes 1-based, as Lua gives them), then PyTorch's value and the
gradient of the scores.  Torchlet's losses are mean reductions:
mse_loss; hinge is mean(relu(1 - y*s)) (no PyTorch module of that form,
so it is written out with clamp_min); bce is BCEWithLogitsLoss;
cross_entropy is CrossEntropyLoss.
"""
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

S = [0.3, -1.2, 2.0, 30.0, -30.0, 1000.0, -1000.0, 0.0]
SIGN = [1, -1, -1, 1, 1, -1, 1, 1]
UNIT = [1, 0, 0.3, 0, 1, 0.25, 0, 0.5]
ROWS = [[0.2, 1.5, -0.3], [2.0, -1.0, 0.5], [900.0, 0.0, -900.0],
        [0.0, 0.0, 0.0], [-50.0, 60.0, 1e-3]]
CLASSES = [2, 1, 3, 3, 2]


def run(name, scores, targets):
    s = torch.tensor(scores, requires_grad=True)
    if name == "mse":
        l = F.mse_loss(s, torch.tensor(targets, dtype=torch.float64))
    elif name == "hinge":
        l = torch.clamp_min(1 - torch.tensor(targets, dtype=torch.float64) * s, 0).mean()
    elif name == "bce":
        l = F.binary_cross_entropy_with_logits(s, torch.tensor(targets, dtype=torch.float64))
    else:
        l = F.cross_entropy(s, torch.tensor(targets) - 1)
    l.backward()
    return l.item(), s.grad.tolist()


def lua(v):
    if isinstance(v, list):
        return "{" + ", ".join(lua(x) for x in v) + "}"
    return "%.17g" % v


print("return {")
for name, scores, targets in [("mse", S, SIGN), ("hinge", S, SIGN), ("bce", S, UNIT),
                              ("cross_entropy", ROWS, CLASSES)]:
    value, grad = run(name, scores, targets)
    print('  {"%s", %s, %s,\n   %s, %s},' % (name, lua(scores), lua(targets), lua(value), lua(grad)))
print("}")
