"""PyTorch's own LoRA step on the GPU, as the reference notebook sets it up
(PEFT r 8, alpha 32, dropout 0.1 on q_lin/v_lin, AdamW, batch 32 × 64), on
the base-shaped checkpoint: the figure our GPU path is measured against.

    python3 torch_step.py BASE_MODEL_DIR
"""
import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from common import load

dev = "cuda"
model = load(sys.argv[1])
model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=32, lora_dropout=0.1, target_modules=["q_lin", "v_lin"])).to(dev)
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3, weight_decay=0.01)
g = torch.Generator().manual_seed(0)
ids = torch.randint(1000, 30000, (32, 64), generator=g).to(dev)
labels = torch.randint(0, 2, (32,), generator=g).to(dev)
mask = torch.ones_like(ids)
model.train()


def step():
    loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
    return loss


for _ in range(5):
    step()
torch.cuda.synchronize()
for tf32 in (False, True):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    n, t0 = 30, time.perf_counter()
    for _ in range(n):
        step()
    torch.cuda.synchronize()
    s = (time.perf_counter() - t0) / n
    print(f"PyTorch {torch.__version__} on {torch.cuda.get_device_name()}, fp32{' (TF32 matmuls)' if tf32 else ''}: {s*1000:.1f} ms/step, {32*64/s:.0f} tokens/s; SST-2 epoch (2,105 steps) {s*2105:.0f} s")
