-- Written by spec/reference/safetensors_torch.py (torch 1.13.0a0):
-- what PyTorch computed for 'inputs' with the model saved in
-- safetensors_torch_f32.safetensors (float32) and
-- safetensors_torch_f64.safetensors (the same weights in float64).
-- Values are hexadecimal floats (exact), read with tonumber.
local function h(rows)
  for _, r in ipairs(rows) do
    for i, v in ipairs(r) do r[i] = assert(tonumber(v)) end
  end
  return rows
end
return {
  activations = {"tanh", "linear", "sigmoid"},
  inputs = h({
    {"0x1.0000000000000p-1", "-0x1.0000000000000p+0", "0x1.0000000000000p+1"},
    {"0x0.0p+0", "0x0.0p+0", "0x0.0p+0"},
    {"-0x1.8000000000000p+1", "0x1.0000000000000p-2", "0x1.8000000000000p+0"},
    {"0x1.0624dd2f1a9fcp-10", "0x1.c000000000000p+2", "-0x1.4000000000000p+1"},
  }),
  f32 = h({
    {"0x1.993d900000000p-2", "0x1.0056860000000p-1"},
    {"0x1.8798f20000000p-2", "0x1.f3e2180000000p-2"},
    {"0x1.96a5500000000p-2", "0x1.0d9e9a0000000p-1"},
    {"0x1.7f51500000000p-2", "0x1.bde28a0000000p-2"},
  }),
  f64 = h({
    {"0x1.993d90f5c4518p-2", "0x1.00568472e8f67p-1"},
    {"0x1.8798f232c68b0p-2", "0x1.f3e21795acbddp-2"},
    {"0x1.96a55124f3323p-2", "0x1.0d9e996074206p-1"},
    {"0x1.7f514e2136b5ap-2", "0x1.bde28a74a52d7p-2"},
  }),
}
