// webtune's page: thin glue between the form controls and the Go API that
// runs in the Worker. All heavy work happens there; this file only moves
// files in, renders what comes back and keeps the session in OPFS.
import { startWorker, ready, api, json, ndjson, whenCrashed, restartWorker } from "./client.mjs";
import * as hub from "./hub.mjs";
import * as store from "./store.mjs";
import { LineChart, histogram } from "./chart.mjs";

const $ = (sel) => document.querySelector(sel);
// el makes an element with properties (textContent, never innerHTML).
const el = (tag, props = {}) => Object.assign(document.createElement(tag), props);
const $$ = (sel) => [...document.querySelectorAll(sel)];
const fmt = (v, d = 4) => (v === undefined || v === null || Number.isNaN(v) ? "–" : Number(v).toFixed(d));
const pct = (v) => (v === undefined || v === null ? "–" : `${(100 * v).toFixed(2)}%`);

const ui = {
  model: null, // ModelInfo from the API
  source: null, // how the model was loaded: {kind: "hub"|"bundled"|"folder", ...}
  datasets: [], // {id, name, role, rows, label_counts}
  views: new Map(), // dataset id -> preview view
  run: null, // RunView
  training: false,
  loss: [], acc: [],
  imported: null,
};

const lossChart = new LineChart($("#chart-loss"), { label: "training loss by step", yFormat: (v) => v.toFixed(2) });
const accChart = new LineChart($("#chart-acc"), { label: "evaluation accuracy by step", yFormat: (v) => `${Math.round(v * 100)}%` });
lossChart.update([]);
accChart.update([]);

function showError(sel, err) {
  const el = $(sel);
  el.textContent = err ? String(err.message ?? err) : "";
  el.hidden = !err;
}

// ---------- session persistence ----------

async function persist(extra = {}) {
  if (!store.available()) return;
  const prev = (await store.loadSession()) ?? {};
  await store.saveSession({
    ...prev,
    model: ui.source,
    datasets: ui.datasets.map((d) => ({ name: d.name, role: d.role })),
    options: readOptions(),
    eval: readEval(),
    ...extra,
  });
}

// ---------- model ----------

async function loadModel(files, name, source) {
  showError("#model-error", null);
  if (ui.run?.after && !confirm("Loading another model discards the current fine-tuned adapter. Continue?")) return;
  $("#model-status").textContent = `Loading ${name}…`;
  try {
    for (const [file, blob] of Object.entries(files)) {
      await json(`/api/model/files/${encodeURIComponent(file)}`, { method: "PUT", body: blob });
    }
    ui.model = await json("/api/model/load", { json: { name } });
    ui.source = source;
    ui.run = null;
    const m = ui.model;
    $("#model-status").textContent = `Loaded ${m.name}: ${m.layers} layers, dim ${m.dim}, ${m.heads} heads, ${(m.params / 1e6).toFixed(1)} M parameters${m.has_head ? ", with a classification head" : ""}.`;
    await persist();
    await refreshDatasets();
    renderRun();
  } catch (e) {
    $("#model-status").textContent = ui.model ? `Still using ${ui.model.name}.` : "No model loaded.";
    showError("#model-error", e);
  }
}

async function loadFromHub({ endpoint, repo, revision }) {
  const bar = $("#hub-progress"), text = $("#hub-progress-text");
  bar.hidden = false;
  bar.value = 0;
  $("#hub-load").disabled = true;
  try {
    const files = await hub.download({
      endpoint, repo, revision,
      onProgress: ({ loaded, total, file, fromCache }) => {
        bar.max = Math.max(total, 1);
        bar.value = loaded;
        text.textContent = `${file}${fromCache ? " (from cache)" : ""}: ${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`;
      },
    });
    text.textContent = "Downloaded; loading…";
    await loadModel(files, repo, { kind: "hub", endpoint, repo, revision });
    text.textContent = "Files are cached in this browser for offline use.";
  } catch (e) {
    showError("#model-error", e);
    text.textContent = "";
  } finally {
    $("#hub-load").disabled = false;
  }
}

const BUNDLED = "models/distilbert-tiny/";
async function loadBundled() {
  try {
    const files = {};
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) {
      const res = await fetch(BUNDLED + f);
      if (!res.ok) throw new Error(`bundled ${f}: ${res.status}`);
      files[f] = await res.blob();
    }
    await loadModel(files, "distilbert-tiny", { kind: "bundled" });
  } catch (e) {
    showError("#model-error", e);
  }
}

async function loadFolder(fileList) {
  const files = {};
  for (const f of fileList) files[f.name] = f;
  const missing = ["config.json", "model.safetensors"].filter((n) => !files[n]);
  if (missing.length) return showError("#model-error", new Error(`The folder lacks ${missing.join(" and ")}.`));
  const wanted = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"].filter((n) => files[n]);
  const picked = Object.fromEntries(wanted.map((n) => [n, files[n]]));
  const name = fileList[0]?.webkitRelativePath?.split("/")[0] || "dropped model";
  if (store.available()) for (const [n, b] of Object.entries(picked)) await store.saveFile("model", n, b);
  await loadModel(picked, name, { kind: "folder", name, files: wanted });
}

// ---------- datasets ----------

const maxLen = () => Number($("#train-form").maxlen.value) || 64;

async function addDatasets(fileList, roles = {}) {
  const errors = $("#data-errors");
  for (const file of fileList) {
    const role = roles[file.name] ? `&role=${roles[file.name]}` : "";
    try {
      const view = await json(`/api/datasets?name=${encodeURIComponent(file.name)}&max_len=${maxLen()}${role}`, { method: "POST", body: file });
      ui.datasets.push(view);
      ui.views.set(view.id, view);
      if (store.available()) await store.saveFile("datasets", file.name, file);
      showPreview(view.id);
    } catch (e) {
      const li = document.createElement("li");
      li.textContent = e.message;
      errors.appendChild(li);
    }
  }
  renderDatasets();
  await persist();
}

async function refreshDatasets() {
  try {
    const views = await json(`/api/datasets?max_len=${maxLen()}`);
    ui.datasets = views;
    ui.views = new Map(views.map((v) => [v.id, v]));
    renderDatasets();
    if (views.length) showPreview($("#preview").dataset.id ? Number($("#preview").dataset.id) : views[views.length - 1].id);
  } catch { /* the API reports errors where they happen */ }
}

function renderDatasets() {
  const table = $("#data-table"), tbody = table.tBodies[0];
  table.hidden = ui.datasets.length === 0;
  tbody.replaceChildren(...ui.datasets.map((d) => {
    // Built with DOM calls: a file's name is the user's text, never HTML.
    const [neg, pos] = d.label_counts;
    const cell = (...kids) => { const td = el("td"); td.append(...kids); return td; };
    const preview = el("button", { type: "button", className: "link", textContent: d.name });
    preview.onclick = () => showPreview(d.id);
    const bar = el("span", { className: "balance" });
    bar.setAttribute("aria-hidden", "true");
    const fill = el("span");
    fill.style.width = `${(100 * neg) / Math.max(1, d.rows)}%`;
    bar.append(fill);
    const sel = el("select");
    sel.setAttribute("aria-label", `Use ${d.name} for`);
    sel.append(el("option", { value: "train", textContent: "training" }), el("option", { value: "eval", textContent: "evaluation" }));
    const remove = el("button", { type: "button", className: "link", textContent: "remove" });
    const rows = cell(d.rows.toLocaleString());
    rows.className = "num";
    const tr = el("tr");
    tr.append(cell(preview), rows, cell(bar, `${neg.toLocaleString()} / ${pos.toLocaleString()}`), cell(sel), cell(remove));
    sel.value = d.role;
    sel.onchange = async () => {
      try {
        await json(`/api/datasets/${d.id}`, { method: "PATCH", json: { role: sel.value } });
        d.role = sel.value;
        await persist();
      } catch (e) { sel.value = d.role; alert(e.message); }
    };
    remove.onclick = async () => {
      await json(`/api/datasets/${d.id}`, { method: "DELETE" });
      ui.datasets = ui.datasets.filter((x) => x.id !== d.id);
      if (store.available()) await store.removeFile("datasets", d.name);
      renderDatasets();
      await persist();
    };
    return tr;
  }));
}

function showPreview(id) {
  const v = ui.views.get(id);
  const box = $("#preview");
  if (!v) { box.hidden = true; return; }
  box.hidden = false;
  box.dataset.id = id;
  $("#preview-title").textContent = `Preview of ${v.name}`;
  box.querySelector("tbody").replaceChildren(...v.preview.map((r) => {
    const tr = document.createElement("tr");
    const a = document.createElement("td"), b = document.createElement("td");
    a.textContent = r.text;
    b.textContent = ui.model?.labels?.[r.label] ?? r.label;
    tr.append(a, b);
    return tr;
  }));
  const h = v.length_histogram;
  if (h) {
    histogram($("#histogram"), { counts: h.counts, binWidth: h.bin_width, maxLen: h.max_len });
    $("#hist-note").textContent = h.truncated ? `(${h.truncated} sampled rows exceed max length ${h.max_len} and will be truncated)` : `(all sampled rows fit in ${h.max_len} tokens)`;
  } else {
    $("#histogram").textContent = "Load a model to see token lengths.";
    $("#hist-note").textContent = "";
  }
}

// ---------- training ----------

function readOptions() {
  const f = $("#train-form");
  const steps = Number(f.steps.value) || 0;
  return {
    lora: { r: Number(f.r.value), lora_alpha: Number(f.alpha.value), lora_dropout: Number(f.dropout.value),
      target_modules: $$("input[name=targets]:checked").map((c) => c.value), use_rslora: false },
    lr: Number(f.lr.value), epochs: Number(f.epochs.value), max_steps: steps, batch: Number(f.batch.value),
    max_len: Number(f.maxlen.value), seed: Number(f.seed.value), warmup_ratio: 0.06, weight_decay: 0.01,
    max_grad_norm: 1, eval_every: Number(f.evalEvery.value) || 0, num_labels: 2, shuffle: true,
  };
}

function writeOptions(o) {
  const f = $("#train-form");
  f.r.value = o.lora.r; f.alpha.value = o.lora.lora_alpha; f.dropout.value = o.lora.lora_dropout;
  $$("input[name=targets]").forEach((c) => (c.checked = o.lora.target_modules.includes(c.value)));
  f.lr.value = o.lr; f.epochs.value = o.epochs; f.steps.value = o.max_steps; f.batch.value = o.batch;
  f.maxlen.value = o.max_len; f.seed.value = o.seed; f.evalEvery.value = o.eval_every;
}

function readEval() {
  const split = $("input[name=eval-source]:checked").value === "split";
  return { source: split ? "split" : "files", fraction: Number($("#split-pct").value) / 100, seed: Number($("#split-seed").value) };
}

function setTraining(on) {
  ui.training = on;
  $("#train-start").disabled = on;
  $("#train-stop").disabled = !on;
  $("#train-resume").hidden = on || !ui.run?.stopped;
  $$("[data-download]").forEach((b) => (b.disabled = on || !ui.run));
}

function updateStats(p) {
  $("#st-step").textContent = `${p.step} / ${p.total_steps}`;
  $("#st-epoch").textContent = fmt(p.epoch, 2);
  $("#st-loss").textContent = fmt(p.loss);
  $("#st-lr").textContent = p.lr.toExponential(2);
  $("#st-tps").textContent = Math.round(p.tokens_per_sec).toLocaleString();
  $("#st-tps").title = `${Math.round(p.padded_tokens_per_sec ?? 0).toLocaleString()} tokens/s with padding${p.passes > 1 ? `; ${p.passes} micro-batches a step` : ""}`;
  if (p.memory_mb) $("#st-mem").textContent = `${Math.round(p.memory_mb).toLocaleString()} MB`;
  const eta = Math.round(p.eta_seconds);
  $("#st-eta").textContent = eta >= 3600 ? `${Math.floor(eta / 3600)} h ${Math.round((eta % 3600) / 60)} min` : eta >= 60 ? `${Math.floor(eta / 60)} min ${eta % 60} s` : `${eta} s`;
  const bar = $("#train-progress");
  bar.max = p.total_steps;
  bar.value = p.step;
}

function drawCharts() {
  lossChart.update([{ points: ui.loss }]);
  accChart.update([{ points: ui.acc, dots: true }]);
}

function renderRun() {
  const r = ui.run;
  $("#st-compute").textContent = r?.compute ?? "–";
  const b = r?.before, a = r?.after;
  $("#r-acc-before").textContent = pct(b?.accuracy);
  $("#r-f1-before").textContent = fmt(b?.f1);
  $("#r-loss-before").textContent = fmt(b?.loss);
  $("#r-acc-after").textContent = pct(a?.accuracy);
  $("#r-f1-after").textContent = fmt(a?.f1);
  $("#r-loss-after").textContent = fmt(a?.loss);
  $("#r-params").textContent = r ? `Trainable parameters: ${r.trainable_params.toLocaleString()} of ${r.total_params.toLocaleString()} (${((100 * r.trainable_params) / r.total_params).toFixed(2)}%) · ${r.train_rows.toLocaleString()} training rows, ${r.eval_rows.toLocaleString()} evaluation rows` : "Trainable parameters: –";
  const cells = $$("#confusion tbody td");
  const c = a?.confusion;
  cells.forEach((td, i) => (td.textContent = c ? c[Math.floor(i / 2)][i % 2].toLocaleString() : "–"));
  $$("[data-download]").forEach((btn) => (btn.disabled = ui.training || !r));
  $("#train-resume").hidden = ui.training || !r?.stopped;
}

// checkpoint saves the training state the API just snapshotted. Saves run
// one after another, so a later checkpoint is never overwritten by an
// earlier one that finished late.
let checkpoints = Promise.resolve();
function checkpoint() {
  // What the checkpoint is of, taken now: by the time it is saved the run
  // may have moved on, or its program died (recover clears ui.run).
  const run = { total: ui.run?.total_steps, loss: [...ui.loss], acc: [...ui.acc] };
  checkpoints = checkpoints.then(() => saveCheckpoint(run));
  return checkpoints;
}

async function saveCheckpoint({ total, loss, acc }) {
  if (!store.available()) return;
  try {
    const res = await api("/api/state");
    if (!res.ok) return;
    const bytes = await res.arrayBuffer();
    await store.saveState(bytes);
    await persist({ checkpoint: { step: Number(res.headers.get("X-Webtune-Step")), total, loss, acc, done: false } });
  } catch (e) {
    console.warn("checkpoint failed", e);
  }
}

function onEvent(ev) {
  switch (ev.type) {
    case "start":
      ui.run = ev.run;
      $("#st-compute").textContent = ev.run.compute;
      if (ev.run.micro_batch < ev.run.options.batch) {
        $("#st-compute").title = `batch ${ev.run.options.batch} runs as micro-batches of ${ev.run.micro_batch} rows (gradients accumulated; the same update), estimated peak ${Math.round(ev.run.peak_estimate_mb)} MB`;
      }
      break;
    case "eval":
      if (ev.progress?.eval) {
        ui.acc.push({ x: ev.progress.step, y: ev.metrics.accuracy });
        onEvent({ type: "step", progress: ev.progress });
      } else if (ui.run) {
        ui.run.before = ev.metrics;
        if (ui.acc.length === 0) ui.acc.push({ x: ev.progress?.step ?? 0, y: ev.metrics.accuracy });
        renderRun();
      }
      drawCharts();
      break;
    case "step":
      updateStats(ev.progress);
      if (!ui.loss.length || ui.loss[ui.loss.length - 1].x < ev.progress.step) ui.loss.push({ x: ev.progress.step, y: ev.progress.loss });
      drawCharts();
      break;
    case "checkpoint":
      checkpoint();
      break;
    case "done":
    case "stopped":
    case "error":
      ui.run = ev.run;
      if (ev.run?.history?.length) {
        ui.loss = ev.run.history.map((p) => ({ x: p.step, y: p.loss }));
        // The stream sends at most ~10 steps a second: show where the run
        // really ended (where a stopped run resumes from).
        updateStats(ev.run.history[ev.run.history.length - 1]);
      }
      drawCharts();
      renderRun();
      if (ev.type === "error") showError("#train-error", new Error(ev.error));
      if (ev.type === "done") persist({ checkpoint: { done: true } });
      break;
  }
}

async function startTraining(body) {
  showError("#train-error", null);
  setTraining(true);
  try {
    await ndjson("/api/train", { checkpoint_every: Number($("#train-form").ckptEvery.value) || 50, ...body }, onEvent);
  } catch (e) {
    showError("#train-error", e);
  } finally {
    setTraining(false);
    renderRun();
  }
}

function toBase64(buf) {
  const bytes = new Uint8Array(buf);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

// ---------- resume after a reload ----------

async function offerResume() {
  if (!store.available()) return;
  const session = await store.loadSession();
  const cp = session?.checkpoint;
  if (!session?.model || !cp || cp.done || !(await store.loadState())) return;
  $("#resume-text").textContent = `A training run on ${session.model.kind === "hub" ? session.model.repo : session.model.name ?? "the bundled model"} stopped at step ${cp.step} of ${cp.total}. Resume it from that checkpoint?`;
  $("#resume-banner").hidden = false;
  $("#resume-discard").onclick = async () => { await store.clearRun(); await persist({ checkpoint: null }); $("#resume-banner").hidden = true; };
  $("#resume-go").onclick = async () => {
    $("#resume-banner").hidden = true;
    await restoreSession(session);
    const state = await store.loadState();
    ui.loss = cp.loss ?? [];
    ui.acc = cp.acc ?? [];
    drawCharts();
    await startTraining({ state: toBase64(await state.arrayBuffer()), eval: session.eval, options: session.options });
  };
}

async function restoreSession(session) {
  const m = session.model;
  if (m.kind === "bundled") await loadBundled();
  else if (m.kind === "hub") await loadFromHub(m);
  else if (m.kind === "folder") {
    const files = {};
    for (const n of m.files) files[n] = await store.loadFile("model", n);
    await loadModel(files, m.name, m);
  }
  if (session.options) writeOptions(session.options);
  if (session.eval) {
    $(`input[name=eval-source][value=${session.eval.source === "split" ? "split" : "files"}]`).checked = true;
    $("#split-pct").value = Math.round(session.eval.fraction * 100) || 10;
    $("#split-seed").value = session.eval.seed ?? 42;
  }
  const files = [], roles = {};
  for (const d of session.datasets ?? []) {
    const f = await store.loadFile("datasets", d.name);
    if (f) { files.push(new File([f], d.name)); roles[d.name] = d.role; }
  }
  if (files.length) await addDatasets(files, roles);
}

// ---------- results, export, import ----------

async function tryText(text) {
  const out = $("#try-out");
  try {
    const p = await json("/api/predict", { json: { text } });
    const grid = el("div", { className: "probs" });
    out.replaceChildren(grid, el("p", { className: "tokens" }));
    for (const [name, probs] of [["base", p.base], ["fine-tuned", p.tuned]]) {
      p.labels.forEach((label, i) => {
        const a = document.createElement("span"), m = document.createElement("span"), v = document.createElement("span");
        a.textContent = `${name}: ${label}`;
        m.className = "meter";
        const fill = el("span");
        fill.style.width = `${(100 * probs[i]).toFixed(1)}%`;
        m.append(fill);
        v.textContent = `${(100 * probs[i]).toFixed(1)}%`;
        grid.append(a, m, v);
      });
    }
    out.querySelector(".tokens").textContent = `tokens: ${p.tokens.join(" ")}`;
  } catch (e) {
    out.textContent = e.message;
  }
}

async function download(file) {
  try {
    const res = await api(`/api/adapter/${file}`);
    if (!res.ok) throw new Error((await res.json()).error);
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = file;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    showError("#adapter-error", e);
  }
}

async function importAdapter(fileList) {
  showError("#adapter-error", null);
  try {
    const byName = Object.fromEntries([...fileList].map((f) => [f.name, f]));
    for (const n of ["adapter_config.json", "adapter_model.safetensors"]) {
      if (!byName[n]) throw new Error(`Drop both adapter_config.json and adapter_model.safetensors (missing ${n}).`);
    }
    for (const n of ["adapter_config.json", "adapter_model.safetensors"]) {
      await json(`/api/adapter/files/${n}`, { method: "PUT", body: byName[n] });
    }
    const res = await json("/api/adapter/import", { json: { eval: readEval(), options: readOptions() } });
    ui.imported = res.adapter;
    ui.run = res.run;
    $("#adapter-status").textContent = `Imported adapter: r=${res.adapter.r}, alpha ${res.adapter.lora_alpha} on ${res.adapter.target_modules.join(", ")} (base ${res.adapter.base_model_name_or_path || "unknown"}); accuracy ${pct(res.run.after.accuracy)}.`;
    $("#from-adapter-wrap").hidden = false;
    renderRun();
  } catch (e) {
    showError("#adapter-error", e);
  }
}

// ---------- wiring ----------

function dropzone(zone, input, onFiles) {
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    onFiles(await droppedFiles(e.dataTransfer));
  });
  zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
  input.addEventListener("change", () => { onFiles([...input.files]); input.value = ""; });
}

// droppedFiles flattens dropped folders into their files.
async function droppedFiles(dt) {
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.some((e) => e.isDirectory)) return [...dt.files];
  const out = [];
  const walk = async (entry) => {
    if (entry.isFile) out.push(await new Promise((res, rej) => entry.file(res, rej)));
    else {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e);
      }
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

function tabs() {
  const all = $$("[role=tab]");
  const select = (tab) => {
    all.forEach((t) => {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(`#${t.getAttribute("aria-controls")}`).hidden = !on;
    });
  };
  all.forEach((t, i) => {
    t.onclick = () => select(t);
    t.onkeydown = (e) => {
      const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (d) { const n = all[(i + d + all.length) % all.length]; select(n); n.focus(); }
    };
  });
  select(all[0]);
}

// describeCompute shows the compute path the Go program chose, and the
// WebGPU adapter if the browser has one.
async function describeCompute() {
  let gpu = "";
  try {
    const adapter = await navigator.gpu?.requestAdapter();
    if (adapter) {
      const info = adapter.info ?? {};
      gpu = [info.vendor, info.architecture, info.description].filter(Boolean).join(" ") || "WebGPU adapter";
    }
  } catch { /* no WebGPU */ }
  try {
    const st = await json("/api/status");
    $("#compute").textContent = st.compute;
  } catch { /* shown when a run starts */ }
  $("#compute").title = gpu ? `WebGPU adapter: ${gpu}. Add ?compute=webgpu or ?compute=cpu to the address to choose the path.` : "No WebGPU adapter in this browser.";
}

// recover restarts a Go program that died and gives it back the model, the
// datasets and the offer to resume from the last checkpoint (all kept in the
// page's storage), so that nothing trained is lost.
async function recover(message) {
  const oom = /out of memory/i.test(message);
  showError("#train-error", new Error(`The training program stopped (${message}).${oom ? " It ran out of memory: a smaller batch or max length needs less." : ""} Restarting it…`));
  setTraining(false);
  // What the dead program held is gone: the page forgets it too (the
  // charts stay, and the checkpoint is in storage).
  await checkpoints; // a checkpoint being saved lands first
  Object.assign(ui, { model: null, datasets: [], run: null, imported: null });
  ui.views.clear();
  renderDatasets();
  try {
    await restartWorker();
    const session = store.available() ? await store.loadSession() : null;
    if (session?.model) await restoreSession(session);
    showError("#train-error", new Error(`The training program stopped (${message}).${oom ? " It ran out of memory: a smaller batch or max length needs less." : ""} It was restarted with the model and datasets${session?.checkpoint && !session.checkpoint.done ? "; resume from the last checkpoint below" : ""}.`));
    await offerResume();
  } catch (e) {
    showError("#train-error", new Error(`The training program stopped (${message}) and could not be restarted: ${e.message}. Reload the page; the last checkpoint is kept.`));
  }
}

async function main() {
  tabs();
  whenCrashed(recover);
  startWorker();
  dropzone($("#model-drop"), $("#model-files"), loadFolder);
  dropzone($("#data-drop"), $("#data-files"), addDatasets);
  dropzone($("#adapter-drop"), $("#adapter-files"), importAdapter);
  $("#hub-form").onsubmit = (e) => {
    e.preventDefault();
    loadFromHub({ endpoint: $("#hub-endpoint").value.trim(), repo: $("#hub-repo").value.trim(), revision: $("#hub-rev").value.trim() });
  };
  $("#bundled-load").onclick = loadBundled;
  $("#train-form").onsubmit = (e) => {
    e.preventDefault();
    ui.loss = [];
    ui.acc = [];
    drawCharts();
    startTraining({ options: readOptions(), eval: readEval(), from_adapter: $("#from-adapter").checked });
  };
  $("#train-stop").onclick = async () => {
    try { await json("/api/stop", { method: "POST" }); } catch (e) { showError("#train-error", e); }
  };
  $("#train-resume").onclick = () => startTraining({ resume: true });
  $("#try-form").onsubmit = (e) => { e.preventDefault(); const t = $("#try-text").value.trim(); if (t) tryText(t); };
  $$("[data-download]").forEach((b) => (b.onclick = () => download(b.dataset.download)));
  $("#train-form").maxlen.onchange = refreshDatasets;
  try {
    await ready;
  } catch (e) {
    showError("#model-error", new Error(`The WebAssembly worker failed to start: ${e.message}`));
    return;
  }
  await describeCompute();
  document.body.dataset.ready = "true";
  await offerResume();
}

main();
