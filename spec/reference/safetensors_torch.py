"""spec/reference/safetensors_torch.py -- files written by PyTorch for
spec/safetensors_spec.lua: a torch.nn.Sequential saved as safetensors, in
float32 (safetensors_torch_f32.safetensors) and float64
(safetensors_torch_f64.safetensors), and what PyTorch computed for a few
inputs (safetensors_torch.lua).

The safetensors package and numpy are not installed here, so the files are
written by hand as safetensors.torch.save_file writes them: an 8-byte
little-endian header length, compact JSON (tensors sorted by name, offsets
contiguous in that order, "__metadata__" {"format": "pt"} as
save_model gives), padded with spaces to a multiple of 8, then each
tensor's little-endian bytes.  No Torchlet metadata: the loader is given
the activations, as a PyTorch user would.

    /usr/bin/python3 spec/reference/safetensors_torch.py   (torch 1.13)
"""
import json
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

torch.manual_seed(2026)
# Linear layers at 0, 2 and 3: a Tanh after the first, nothing after the
# second, a Sigmoid at the end (Torchlet: activations tanh, linear, sigmoid)
model = torch.nn.Sequential(
    torch.nn.Linear(3, 5), torch.nn.Tanh(),
    torch.nn.Linear(5, 4),
    torch.nn.Linear(4, 2), torch.nn.Sigmoid())


def save(module, path, dtype, fmt):
    tensors = {k: v.detach().to(dtype).contiguous()
               for k, v in module.state_dict().items()}
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        values = t.flatten().tolist()
        blob = struct.pack("<%d%s" % (len(values), fmt), *values)
        header[name] = {"dtype": "F32" if fmt == "f" else "F64",
                        "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


save(model, os.path.join(HERE, "safetensors_torch_f32.safetensors"),
     torch.float32, "f")
save(model, os.path.join(HERE, "safetensors_torch_f64.safetensors"),
     torch.float64, "d")

inputs = [[0.5, -1.0, 2.0], [0.0, 0.0, 0.0], [-3.0, 0.25, 1.5],
          [1.0e-3, 7.0, -2.5]]
with torch.no_grad():
    out32 = model(torch.tensor(inputs, dtype=torch.float32)).tolist()
    out64 = model.double()(torch.tensor(inputs, dtype=torch.float64)).tolist()


def lua_rows(rows):
    """Rows as a Lua table of hexadecimal strings (Lua 5.1's lexer cannot
    read a hexadecimal float literal; tonumber can)."""
    return "h({\n" + "".join(
        "    {%s},\n" % ", ".join('"%s"' % float.hex(v) for v in r)
        for r in rows) + "  })"


with open(os.path.join(HERE, "safetensors_torch.lua"), "w") as f:
    f.write("-- Written by spec/reference/safetensors_torch.py (torch %s):\n"
            "-- what PyTorch computed for 'inputs' with the model saved in\n"
            "-- safetensors_torch_f32.safetensors (float32) and\n"
            "-- safetensors_torch_f64.safetensors (the same weights in float64).\n"
            "-- Values are hexadecimal floats (exact), read with tonumber.\n"
            "local function h(rows)\n"
            "  for _, r in ipairs(rows) do\n"
            "    for i, v in ipairs(r) do r[i] = assert(tonumber(v)) end\n"
            "  end\n"
            "  return rows\n"
            "end\n"
            "return {\n"
            "  activations = {\"tanh\", \"linear\", \"sigmoid\"},\n"
            "  inputs = %s,\n"
            "  f32 = %s,\n"
            "  f64 = %s,\n"
            "}\n" % (torch.__version__, lua_rows(inputs), lua_rows(out32),
                     lua_rows(out64)))
