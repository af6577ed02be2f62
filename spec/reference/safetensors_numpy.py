"""spec/reference/safetensors_numpy.py -- a safetensors file read with
numpy alone, as a PyTorch user without Torchlet reads one (the layout of
https://github.com/huggingface/safetensors: an 8-byte little-endian header
length, a JSON header, raw little-endian tensors).  Used by
spec/safetensors_spec.lua; needs Debian's python3-numpy (setup.sh test).

    /usr/bin/python3 spec/reference/safetensors_numpy.py FILE

prints one line per tensor, in the header's order of offsets:
    name dtype shape(comma-separated) value value ...
each value as Python's repr of the float64 it widens to (the shortest
decimal that reads back to the same double).
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F64": "<f8", "F32": "<f4"}

with open(sys.argv[1], "rb") as f:
    data = f.read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
base = 8 + n
tensors = [(k, v) for k, v in header.items() if k != "__metadata__"]
tensors.sort(key=lambda kv: kv[1]["data_offsets"][0])
for name, t in tensors:
    start, end = t["data_offsets"]
    a = np.frombuffer(data, dtype=DTYPES[t["dtype"]], count=(end - start) //
                      np.dtype(DTYPES[t["dtype"]]).itemsize, offset=base + start)
    a = a.reshape(t["shape"])          # fails unless the shape fits the bytes
    print(name, t["dtype"], ",".join(str(d) for d in t["shape"]),
          " ".join(repr(float(v)) for v in a.astype(np.float64).ravel()))
