#!/usr/bin/python3
"""Golden data for webtune's trainer, computed with PyTorch (Debian's python3-torch).

DistilBERT here is written from torch.nn.functional following transformers'
modeling_distilbert.py (transformers itself is not packaged in Debian); before
writing anything the script checks it against the shared reference logits that
real transformers + PEFT produced, so the golden data rests on that.

Writes into testdata/torch/ (committed; CI never runs this script):
  init_adapter/            a fresh PEFT adapter (A kaiming-uniform(a=sqrt5), B zeros, head normal(0, .02))
  train_steps.json         20 AdamW steps from init_adapter, dropout off, fixed batches: loss and lr per step
  final_adapter.safetensors  the trainable tensors after those 20 steps
  grads.safetensors        one batch's gradients at the shared reference adapter, every trainable tensor

Usage: /usr/bin/python3 tools/golden/torch_reference.py ../shared/models/distilbert-tiny testdata/torch
"""
import json, math, os, struct, sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.use_deterministic_algorithms(True)


def read_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    hdr = json.loads(b[8:8 + n])
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", (k, v["dtype"])
        s, e = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(b[8 + n + s:8 + n + e], dtype="<f4").reshape(v["shape"]).copy())
    return out


def write_safetensors(path, tensors, metadata={"format": "pt"}):
    keys = sorted(tensors)
    hdr, off, blobs = {"__metadata__": metadata}, 0, []
    for k in keys:
        a = tensors[k].detach().to(torch.float32).contiguous().numpy().astype("<f4")
        hdr[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class DistilBert:
    """modeling_distilbert.DistilBertForSequenceClassification with PEFT LoRA, functional."""

    def __init__(self, cfg, base, r, alpha, targets):
        self.cfg, self.base, self.scale, self.targets = cfg, base, alpha / r, targets
        self.train = False

    def drop(self, x, p):
        return F.dropout(x, p, self.train)

    def lin(self, w, x, key):
        y = F.linear(x, self.base[key + ".weight"], self.base[key + ".bias"])
        if key.rsplit(".", 1)[-1] in self.targets:
            a, b = w[key + ".lora_A.weight"], w[key + ".lora_B.weight"]
            y = y + (self.drop(x, 0.1) @ a.t() @ b.t()) * self.scale
        return y

    def ln(self, x, key):
        return F.layer_norm(x, (x.shape[-1],), self.base[key + ".weight"], self.base[key + ".bias"], eps=1e-12)

    def forward(self, w, ids, mask):
        c, B = self.cfg, self.base
        bs, seq = ids.shape
        x = B["distilbert.embeddings.word_embeddings.weight"][ids] + B["distilbert.embeddings.position_embeddings.weight"][:seq][None]
        x = self.drop(self.ln(x, "distilbert.embeddings.LayerNorm"), c["dropout"])
        nh, dh = c["n_heads"], c["dim"] // c["n_heads"]
        add_mask = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for i in range(c["n_layers"]):
            p = f"distilbert.transformer.layer.{i}."
            sh = lambda t: t.view(bs, seq, nh, dh).transpose(1, 2)
            q = sh(self.lin(w, x, p + "attention.q_lin")) / math.sqrt(dh)
            k = sh(self.lin(w, x, p + "attention.k_lin"))
            v = sh(self.lin(w, x, p + "attention.v_lin"))
            att = self.drop(F.softmax(q @ k.transpose(2, 3) + add_mask, dim=-1), c["attention_dropout"])
            ctx = (att @ v).transpose(1, 2).reshape(bs, seq, c["dim"])
            sa = self.ln(self.lin(w, ctx, p + "attention.out_lin") + x, p + "sa_layer_norm")
            h = self.lin(w, F.gelu(self.lin(w, sa, p + "ffn.lin1")), p + "ffn.lin2")
            x = self.ln(self.drop(h, c["dropout"]) + sa, p + "output_layer_norm")
        h = F.relu(F.linear(x[:, 0], w["pre_classifier.weight"], w["pre_classifier.bias"]))
        return F.linear(self.drop(h, c["seq_classif_dropout"]), w["classifier.weight"], w["classifier.bias"])


PREFIX = "base_model.model."


def batch(rows):
    seq = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), seq, dtype=torch.long)
    mask = torch.zeros(len(rows), seq, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids, mask


def main(model_dir, out):
    cfg = json.load(open(f"{model_dir}/config.json"))
    base = read_safetensors(f"{model_dir}/model.safetensors")
    ref = json.load(open(f"{model_dir}/reference/dev_logits.json"))
    ref_adapter = {k[len(PREFIX):]: v for k, v in read_safetensors(f"{model_dir}/reference/adapter_model.safetensors").items()}
    model = DistilBert(cfg, base, 8, 32, ("q_lin", "v_lin"))

    # 1. Our functional model must reproduce transformers + PEFT's logits.
    with torch.no_grad():
        worst = 0.0
        for start in range(0, len(ref["input_ids"]), 64):
            ids, mask = batch(ref["input_ids"][start:start + 64])
            got = model.forward(ref_adapter, ids, mask)
            want = torch.tensor(ref["logits"][start:start + 64])
            worst = max(worst, (got - want).abs().max().item())
    print(f"functional DistilBERT vs transformers reference logits: max abs diff {worst:.2e}")
    assert worst < 1e-4, worst

    os.makedirs(f"{out}/init_adapter", exist_ok=True)
    trainable_keys = sorted(ref_adapter)

    # 2. One batch's gradients at the reference adapter (dropout off).
    ids, mask = batch(ref["input_ids"][:32])
    labels = torch.tensor(ref["labels"][:32])
    w = {k: v.clone().requires_grad_(True) for k, v in ref_adapter.items()}
    loss = F.cross_entropy(model.forward(w, ids, mask), labels)
    loss.backward()
    write_safetensors(f"{out}/grads.safetensors", {PREFIX + k: w[k].grad for k in trainable_keys})
    json.dump({"loss": loss.item(), "rows": [0, 32], "source": "dev rows 0..31, reference adapter, dropout off"},
              open(f"{out}/grads.json", "w"), indent=1)

    # 3. 20 AdamW steps from a fresh adapter, as the HF Trainer would take them.
    g = torch.Generator().manual_seed(1234)
    init = {}
    for k, v in ref_adapter.items():
        if k.endswith("lora_A.weight"):
            bound = 1 / math.sqrt(v.shape[1])  # kaiming_uniform_(a=sqrt(5))
            init[k] = (torch.rand(v.shape, generator=g) * 2 - 1) * bound
        elif k.endswith("lora_B.weight") or k.endswith(".bias"):
            init[k] = torch.zeros(v.shape)
        else:
            init[k] = torch.randn(v.shape, generator=g) * 0.02
    write_safetensors(f"{out}/init_adapter/adapter_model.safetensors", {PREFIX + k: v for k, v in init.items()})
    acfg = json.load(open(f"{model_dir}/reference/adapter_config.json"))
    json.dump(acfg, open(f"{out}/init_adapter/adapter_config.json", "w"), indent=2)

    w = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    decay = [w[k] for k in trainable_keys if not k.endswith(".bias")]
    no_decay = [w[k] for k in trainable_keys if k.endswith(".bias")]
    lr, steps, warmup, bs = 1e-3, 20, 2, 16
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.999), eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: s / max(1, warmup) if s < warmup else max(0.0, (steps - s) / max(1, steps - warmup)))
    log = []
    for s in range(steps):
        rows = list(range(s * bs, (s + 1) * bs))  # dev rows in file order
        ids, mask = batch([ref["input_ids"][i] for i in rows])
        labels = torch.tensor([ref["labels"][i] for i in rows])
        opt.zero_grad()
        loss = F.cross_entropy(model.forward(w, ids, mask), labels)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(w.values()), 1.0)
        cur_lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        log.append({"step": s + 1, "loss": loss.item(), "lr": cur_lr, "grad_norm": norm.item()})
    write_safetensors(f"{out}/final_adapter.safetensors", {PREFIX + k: v for k, v in w.items()})
    json.dump({"lr": lr, "steps": steps, "warmup": warmup, "batch": bs, "weight_decay": 0.01, "max_grad_norm": 1.0,
               "batches": "dev rows in file order, batch s = rows [16s, 16s+16), dynamic padding, dropout off",
               "log": log}, open(f"{out}/train_steps.json", "w"), indent=1)
    print("losses:", " ".join(f"{e['loss']:.4f}" for e in log))


if __name__ == "__main__":
    main(*sys.argv[1:])
