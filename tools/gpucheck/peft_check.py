"""Loads a webtune adapter with Hugging Face PEFT, as a user would, and
compares its logits with the ones webtune computed (train -predictions).

    python3 peft_check.py BASE_MODEL_DIR RUN_DIR OUT.json
"""
import json
import sys

import torch
from peft import PeftModel
from common import load

base_dir, run_dir, out = sys.argv[1:4]
ours = json.load(open(f"{run_dir}/predictions.json"))
base = load(base_dir)
model = PeftModel.from_pretrained(base, run_dir).eval()
worst, agree, n = 0.0, 0, len(ours["input_ids"])
with torch.no_grad():
    for ids, want in zip(ours["input_ids"], ours["logits"]):
        got = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long)).logits[0]
        worst = max(worst, (got - torch.tensor(want)).abs().max().item())
        agree += int(got.argmax().item() == max(range(len(want)), key=lambda i: want[i]))
res = {"base": base_dir, "rows": n, "max_abs_logit_diff": worst, "same_prediction": agree,
       "trainable_in_peft": sum(p.numel() for n_, p in model.named_parameters() if "lora_" in n_ or "classifier" in n_)}
json.dump(res, open(out, "w"), indent=1)
print(f"{base_dir}: PeftModel.from_pretrained loaded the adapter; {n} rows, max |logit difference| {worst:.2e}, same prediction on {agree}/{n}",
      "PASS" if worst < 1e-4 and agree == n else "FAIL (bound 1e-4)")
