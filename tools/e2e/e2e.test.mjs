// End-to-end tests of the page in Debian's Chromium (headless, WebGPU on
// SwiftShader), driven by playwright-core. Run by `make test-e2e`, which
// builds the page first. Screenshots of each stage go to test-output/e2e/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const ROOT = resolve(import.meta.dirname, "../..");
const OUT = join(ROOT, "test-output", "e2e");
const SHARED = resolve(ROOT, "../shared");
const BUNDLED = join(ROOT, "public/models/distilbert-tiny");
const DEV = join(SHARED, "data/sst2/dev.tsv");
mkdirSync(OUT, { recursive: true });

let serve, hub, hubURL, pageURL, browser, page;
const requests = [];

function listen(server) {
  return new Promise((res) => server.listen(0, "127.0.0.1", () => res(server.address().port)));
}

// A model hub with the Hugging Face URL layout: /{repo}/resolve/{revision}/{file};
// large files redirect to a "CDN" path as the hub does for LFS files.
function fakeHub() {
  return createServer((req, res) => {
    res.setHeader("Access-Control-Allow-Origin", "*");
    const m = req.url.match(/^\/webtune\/distilbert-tiny\/resolve\/main\/([\w.]+)$/);
    const cdn = req.url.match(/^\/cdn\/([\w.]+)$/);
    const file = m?.[1] ?? cdn?.[1];
    if (m && file === "model.safetensors") {
      res.writeHead(302, { Location: `/cdn/${file}` });
      return res.end();
    }
    const path = file && join(BUNDLED, file);
    if (!path || !existsSync(path)) {
      res.writeHead(404);
      return res.end("Entry not found");
    }
    const body = readFileSync(path);
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": body.length });
    res.end(body);
  });
}

async function freePort() {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

before(async () => {
  hub = fakeHub();
  hubURL = `http://127.0.0.1:${await listen(hub)}`;
  const port = await freePort();
  pageURL = `http://127.0.0.1:${port}`;
  execFileSync("go", ["build", "-o", join(OUT, "serve"), "./tools/serve"], { cwd: ROOT, stdio: "inherit" });
  serve = spawn(join(OUT, "serve"), ["-addr", `127.0.0.1:${port}`, "-dir", "public", "-hub-origins", hubURL], { cwd: ROOT, stdio: "inherit" });
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(pageURL)).ok) break; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "webtune-chromium-")), {
    executablePath: "/usr/bin/chromium", headless: true, acceptDownloads: true, viewport: { width: 1280, height: 900 },
    args: ["--no-sandbox", "--enable-unsafe-webgpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  browser.setDefaultTimeout(120_000); // no action may wait forever
  browser.on("request", (r) => requests.push(r.url()));
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on("pageerror", (e) => console.log("page error:", e.message));
  // The Worker's console (Go's panics land there) goes to a file for post-mortems.
  const consoleLog = [];
  page.on("console", (m) => { consoleLog.push(m.text()); writeFileSync(join(OUT, "console.log"), consoleLog.join("\n")); });
});

after(async () => {
  await browser?.close();
  serve?.kill();
  hub?.close();
});

const shot = (name) => page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
const text = (sel) => page.textContent(sel);

async function open() {
  await page.goto(pageURL);
  await page.waitForSelector("body[data-ready=true]", { timeout: 180_000 });
}

async function loadBundled() {
  await page.click("#tab-bundled");
  await page.click("#bundled-load");
  await page.waitForFunction(() => document.querySelector("#model-status").textContent.startsWith("Loaded"), null, { timeout: 120_000 });
}

// drop dispatches a real drop event carrying files on a drop zone.
async function drop(selector, files) {
  const payload = files.map(([path, name]) => ({ name, b64: readFileSync(path).toString("base64") }));
  const dt = await page.evaluateHandle((items) => {
    const dt = new DataTransfer();
    for (const { name, b64 } of items) dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name));
    return dt;
  }, payload);
  await page.dispatchEvent(selector, "drop", { dataTransfer: dt });
}

async function setForm(values) {
  for (const [name, v] of Object.entries(values)) await page.fill(`#train-form [name=${name}]`, String(v));
}

const step = async () => Number((await text("#st-step")).split("/")[0]);

async function waitIdle(timeout = 600_000) {
  await page.waitForFunction(() => !document.querySelector("#train-start").disabled, null, { timeout });
}

test("open the page", async () => {
  await open();
  assert.match(await page.title(), /webtune/);
  await shot("01-open");
});

test("drop SST-2 shards and the dev file, see the preview", async () => {
  await loadBundled();
  await drop("#data-drop", [
    [join(ROOT, "testdata/sst2/train-00000-of-00002.parquet"), "train-00000-of-00002.parquet"],
    [join(ROOT, "testdata/sst2/train-00001-of-00002.parquet"), "train-00001-of-00002.parquet"],
    [DEV, "dev.tsv"],
  ]);
  await page.waitForSelector("#data-table tbody tr:nth-child(3)");
  const rows = await page.$$eval("#data-table tbody tr", (trs) => trs.map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent, tr.querySelector("select").value]));
  assert.deepEqual(rows, [["train-00000-of-00002.parquet", "1,000", "train"], ["train-00001-of-00002.parquet", "1,000", "train"], ["dev.tsv", "872", "eval"]]);
  assert.equal(await page.$$eval("#preview tbody tr", (r) => r.length), 8);
  assert.ok(await page.$("#histogram svg rect"));
  await shot("02-data");
});

test("train on the CPU path, watching the charts update", async () => {
  await setForm({ steps: 12, batch: 16, evalEvery: 6, ckptEvery: 4 });
  await page.click("#train-start");
  await page.waitForFunction(() => Number(document.querySelector("#chart-loss svg")?.dataset.points) >= 2, null, { timeout: 300_000 });
  const early = Number(await page.getAttribute("#chart-loss svg", "data-points"));
  await shot("03-training");
  await waitIdle();
  const late = Number(await page.getAttribute("#chart-loss svg", "data-points"));
  assert.ok(late > early, `loss chart grew from ${early} to ${late} points`);
  assert.equal(await text("#st-step"), "12 / 12");
  // Large products split across one thread per core (the page is
  // cross-origin isolated, so the helper workers share memory).
  const threads = await page.evaluate(() => Math.min(navigator.hardwareConcurrency || 1, 8));
  const label = threads > 1 ? `CPU · WebAssembly SIMD · ${threads} threads` : "CPU · WebAssembly SIMD";
  assert.equal(await text("#st-compute"), label);
  assert.equal(await text("#compute"), label);
  assert.ok(Number(await page.getAttribute("#chart-acc svg", "data-points")) >= 2);
  assert.match(await text("#r-acc-after"), /^\d+\.\d\d%$/);
  await shot("04-trained");
});


test("download the adapter: PEFT keys, shapes and config; accuracy equals tools/train's", async () => {
  const dir = mkdtempSync(join(tmpdir(), "webtune-adapter-"));
  for (const file of ["adapter_config.json", "adapter_model.safetensors", "metrics.json", "adapter.zip"]) {
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click(`[data-download="${file}"]`)]);
    await dl.saveAs(join(dir, file));
  }
  const cfg = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
  assert.equal(cfg.peft_type, "LORA");
  assert.equal(cfg.task_type, "SEQ_CLS");
  assert.equal(cfg.r, 8);
  assert.equal(cfg.lora_alpha, 32);
  assert.deepEqual(cfg.target_modules, ["q_lin", "v_lin"]);
  assert.deepEqual(cfg.modules_to_save, ["classifier", "score"]);
  const st = readFileSync(join(dir, "adapter_model.safetensors"));
  const n = Number(st.readBigUInt64LE(0));
  const header = JSON.parse(st.subarray(8, 8 + n).toString());
  assert.deepEqual(header.__metadata__, { format: "pt" });
  const shapes = Object.fromEntries(Object.entries(header).filter(([k]) => k !== "__metadata__").map(([k, v]) => [k, v.shape]));
  const want = { "base_model.model.pre_classifier.weight": [128, 128], "base_model.model.pre_classifier.bias": [128],
    "base_model.model.classifier.weight": [2, 128], "base_model.model.classifier.bias": [2] };
  for (const l of [0, 1]) for (const m of ["q_lin", "v_lin"]) {
    want[`base_model.model.distilbert.transformer.layer.${l}.attention.${m}.lora_A.weight`] = [8, 128];
    want[`base_model.model.distilbert.transformer.layer.${l}.attention.${m}.lora_B.weight`] = [128, 8];
  }
  assert.deepEqual(shapes, want);
  for (const v of Object.values(header)) if (v.dtype) assert.equal(v.dtype, "F32");

  const pageMetrics = JSON.parse(readFileSync(join(dir, "metrics.json"), "utf8"));
  const cliOut = join(dir, "cli");
  execFileSync("go", ["run", "./tools/train", "-model", BUNDLED, "-eval", DEV, "-adapter", dir, "-steps", "0", "-out", cliOut], { cwd: ROOT, stdio: "pipe" });
  const cli = JSON.parse(readFileSync(join(cliOut, "metrics.json"), "utf8"));
  assert.equal(pageMetrics.eval_accuracy, cli.eval_accuracy, "page and CLI accuracy on dev.tsv");
  assert.equal(pageMetrics.eval_f1, cli.eval_f1);
  assert.equal(await text("#r-acc-after"), `${(100 * cli.eval_accuracy).toFixed(2)}%`);
  writeFileSync(join(OUT, "adapter-metrics.json"), JSON.stringify({ page: pageMetrics, cli }, null, 2));
});

test("stop, reload, resume from the checkpoint", async () => {
  await setForm({ steps: 40, batch: 16, evalEvery: 0, ckptEvery: 3 });
  await page.click("#train-start");
  await page.waitForFunction(() => {
    const [done, total] = document.querySelector("#st-step").textContent.split("/").map(Number);
    return total === 40 && done >= 6;
  }, null, { timeout: 300_000 });
  await page.click("#train-stop");
  await waitIdle();
  const stoppedAt = await step();
  assert.ok(stoppedAt >= 6 && stoppedAt < 40, `stopped at ${stoppedAt}`);
  await page.waitForTimeout(500); // the stop checkpoint is written to OPFS
  await shot("05-stopped");
  await page.reload();
  await page.waitForSelector("body[data-ready=true]", { timeout: 180_000 });
  await page.waitForSelector("#resume-banner:not([hidden])");
  const banner = await text("#resume-text");
  assert.match(banner, new RegExp(`step ${stoppedAt} of 40`), banner);
  await shot("06-resume-offer");
  await page.click("#resume-go");
  await page.waitForFunction(() => document.querySelector("#st-step").textContent.startsWith("40 /"), null, { timeout: 600_000 });
  await waitIdle();
  assert.equal(await text("#st-step"), "40 / 40");
  assert.match(await text("#r-acc-after"), /%$/);
  await shot("07-resumed");
});

test("a malformed file shows its line, and nothing loaded is lost", async () => {
  const bad = join(mkdtempSync(join(tmpdir(), "webtune-bad-")), "bad.tsv");
  writeFileSync(bad, "sentence\tlabel\na fine film\t1\nthe worst\tmaybe\n");
  const before = await page.$$eval("#data-table tbody tr", (r) => r.length);
  await drop("#data-drop", [[bad, "bad.tsv"]]);
  await page.waitForSelector("#data-errors li");
  assert.match(await text("#data-errors"), /bad\.tsv:3: label "maybe" is not one of 0, 1 or negative, positive/);
  assert.equal(await page.$$eval("#data-table tbody tr", (r) => r.length), before);
  assert.match(await text("#r-acc-after"), /%$/, "results survive");
  await shot("08-malformed");
});

test("a file name with HTML in it stays text", async () => {
  const name = `"><img src=x onerror="window.pwned=1">.tsv`;
  const path = join(mkdtempSync(join(tmpdir(), "webtune-name-")), "named.tsv");
  writeFileSync(path, "sentence\tlabel\na fine film\t1\na dull one\t0\n");
  await drop("#data-drop", [[path, name]]);
  await page.waitForFunction((n) => [...document.querySelectorAll("#data-table tbody tr")].some((tr) => tr.cells[0].textContent === n), name);
  assert.equal(await page.$$eval("#data-table img", (imgs) => imgs.length), 0);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  // Remove it again (its row's last cell), leaving the data as it was.
  await page.$$eval("#data-table tbody tr", (trs, n) => trs.find((tr) => tr.cells[0].textContent === n).querySelector("td:last-child button").click(), name);
  await page.waitForFunction((n) => ![...document.querySelectorAll("#data-table tbody tr")].some((tr) => tr.cells[0].textContent === n), name);
});

test("load from the hub, then again offline from the cache", async () => {
  await page.click("#tab-hub");
  await page.fill("#hub-endpoint", hubURL);
  await page.fill("#hub-repo", "webtune/distilbert-tiny");
  page.once("dialog", (d) => d.accept()); // "discard the current adapter?"
  await page.click("#hub-load");
  await page.waitForFunction(() => document.querySelector("#model-status").textContent.startsWith("Loaded webtune/distilbert-tiny"), null, { timeout: 120_000 });
  assert.equal(await page.getAttribute("#hub-progress", "value"), await page.getAttribute("#hub-progress", "max"));
  await shot("09-hub");
  await new Promise((r) => hub.close(r)); // offline: the hub is gone
  hub.closeAllConnections?.();
  await page.reload();
  await page.waitForSelector("body[data-ready=true]", { timeout: 180_000 });
  await page.fill("#hub-endpoint", hubURL);
  await page.fill("#hub-repo", "webtune/distilbert-tiny");
  await page.click("#hub-load");
  await page.waitForFunction(() => document.querySelector("#model-status").textContent.startsWith("Loaded webtune/distilbert-tiny"), null, { timeout: 120_000 });
  await shot("10-hub-offline");
});

test("fits a phone, has a dark theme, and is keyboard-reachable", async () => {
  await page.emulateMedia({ colorScheme: "dark" });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than a phone`);
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, "rgb(13, 17, 23)");
  await shot("11-phone-dark");
  // Every form control has an accessible name.
  const unnamed = await page.$$eval("input:not([type=hidden]):not([hidden]), select, button", (els) =>
    els.filter((e) => !e.closest("[hidden]") && e.type !== "file" && !(e.labels?.length || e.getAttribute("aria-label") || e.textContent.trim())).map((e) => e.outerHTML.slice(0, 80)));
  assert.deepEqual(unnamed, []);
  // Tabs work from the keyboard.
  await page.focus("#tab-hub");
  await page.keyboard.press("ArrowRight");
  assert.equal(await page.getAttribute("#tab-folder", "aria-selected"), "true");
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1280, height: 900 });
});

// trainFresh opens the page with a compute path, trains a few steps on the
// bundled model and returns the per-step losses the API recorded.
async function trainFresh(compute) {
  await page.goto(`${pageURL}/?compute=${compute}`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 180_000 });
  if (await page.isVisible("#resume-banner")) await page.click("#resume-discard");
  await loadBundled();
  await drop("#data-drop", [[join(ROOT, "testdata/sst2/train-2000.tsv"), "train-2000.tsv"]]);
  await page.waitForSelector("#data-table tbody tr");
  await page.check("input[name=eval-source][value=split]");
  await page.fill("#split-pct", "5");
  await setForm({ steps: 4, batch: 16, evalEvery: 0, ckptEvery: 100 });
  await page.click("#train-start");
  await page.waitForFunction(() => document.querySelector("#st-step").textContent === "4 / 4", null, { timeout: 600_000 });
  await waitIdle();
  const st = await page.evaluate(async () => (await import("/js/client.mjs")).json("/api/status"));
  return { compute: st.run.compute, losses: st.run.history.map((p) => p.loss), accuracy: st.run.after.accuracy };
}

test("train on WebGPU and on the CPU path: the same losses", async () => {
  const gpu = await trainFresh("webgpu");
  assert.match(gpu.compute, /^WebGPU · /, gpu.compute);
  assert.equal(await text("#compute"), gpu.compute);
  await shot("12-webgpu");
  // The CPU path with two threads whatever the machine: the tiny model's
  // larger products (batch 16: about 800×128·128×512) are split between
  // this worker and a helper, and must give the same losses.
  const cpu = await trainFresh("cpu&threads=2");
  assert.equal(cpu.compute, "CPU · WebAssembly SIMD · 2 threads");
  assert.equal(gpu.losses.length, 4);
  gpu.losses.forEach((l, i) => assert.ok(Math.abs(l - cpu.losses[i]) <= 1e-4 * cpu.losses[i], `step ${i + 1}: WebGPU ${l}, CPU ${cpu.losses[i]}`));
  assert.equal(gpu.accuracy, cpu.accuracy);
  writeFileSync(join(OUT, "webgpu-vs-cpu.json"), JSON.stringify({ gpu, cpu }, null, 2));
});

test("the Go program dies mid-run: the Worker restarts with the model, the datasets and the checkpoint", async () => {
  await page.goto(`${pageURL}/?compute=cpu`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 180_000 });
  if (await page.isVisible("#resume-banner")) await page.click("#resume-discard");
  await loadBundled();
  await drop("#data-drop", [[join(ROOT, "testdata/sst2/train-2000.tsv"), "train-2000.tsv"]]);
  await page.waitForSelector("#data-table tbody tr");
  await page.check("input[name=eval-source][value=split]");
  await page.fill("#split-pct", "5");
  await setForm({ steps: 60, batch: 16, evalEvery: 0, ckptEvery: 2 });
  await page.click("#train-start");
  await page.waitForFunction(() => Number(document.querySelector("#st-step").textContent.split("/")[0]) >= 5, null, { timeout: 300_000 });
  await page.waitForTimeout(500); // a checkpoint reaches the page's storage
  await page.evaluate(async () => (await import("/js/client.mjs")).simulateCrash());
  await page.waitForFunction(() => /was restarted/.test(document.querySelector("#train-error").textContent), null, { timeout: 180_000 });
  assert.match(await text("#train-error"), /stopped \(fatal error: out of memory \(simulated\)\)\. It ran out of memory: a smaller batch or max length needs less\. It was restarted with the model and datasets/);
  await page.waitForSelector("#resume-banner:not([hidden])");
  const banner = await text("#resume-text");
  const at = Number(banner.match(/step (\d+) of 60/)?.[1]);
  assert.ok(at >= 2, banner);
  assert.match(await text("#model-status"), /^Loaded/);
  assert.deepEqual(await page.$$eval("#data-table tbody tr", (trs) => trs.map((tr) => tr.cells[0].textContent)), ["train-2000.tsv"]);
  await shot("13-crash-recovered");
  await page.click("#resume-go");
  await page.waitForFunction(() => document.querySelector("#st-step").textContent === "60 / 60", null, { timeout: 600_000 });
  await waitIdle();
  assert.match(await text("#r-acc-after"), /%$/);
});

// The real size: a folder with distilbert-base-uncased's config (random
// weights, 268 MB, from tools/genbase) chosen as a user would, trained at
// the notebook's batch 32 × max length 64 on the CPU path within the
// page's memory budget, exported, and imported back with the same accuracy.
test("base-size model folder: 3 steps at batch 32 × 64, export, re-import", async () => {
  const dir = mkdtempSync(join(tmpdir(), "webtune-base-"));
  execFileSync("go", ["run", "./tools/genbase", "-out", dir, "-tokenizer", BUNDLED], { cwd: ROOT, stdio: "pipe" });
  await page.goto(`${pageURL}/?compute=cpu`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 180_000 });
  if (await page.isVisible("#resume-banner")) await page.click("#resume-discard");
  await page.click("#tab-folder");
  await page.setInputFiles("#model-files", dir); // a directory, as the folder picker gives it
  await page.waitForFunction(() => document.querySelector("#model-status").textContent.startsWith("Loaded"), null, { timeout: 300_000 });
  await drop("#data-drop", [[join(ROOT, "testdata/sst2/train-2000.tsv"), "train-2000.tsv"]]);
  await page.waitForSelector("#data-table tbody tr");
  await page.check("input[name=eval-source][value=split]");
  await page.fill("#split-pct", "3");
  await setForm({ steps: 3, batch: 32, maxlen: 64, evalEvery: 0, ckptEvery: 100 });
  await page.click("#train-start");
  await page.waitForFunction(() => document.querySelector("#st-step").textContent === "3 / 3", null, { timeout: 900_000 });
  await waitIdle(900_000);
  await shot("14-base-size");
  const st = await page.evaluate(async () => (await import("/js/client.mjs")).json("/api/status"));
  assert.equal(st.run.history.length, 3);
  st.run.history.forEach((p) => assert.ok(Number.isFinite(p.loss) && p.loss > 0, `loss ${p.loss}`));
  assert.ok(st.run.micro_batch < 32, `micro-batches of ${st.run.micro_batch} rows`);
  // Issue #9's target is 1.5 GB: met when this test runs alone (1.44 GB),
  // 2.36 GB once seen after the whole suite (open: see the issue). The
  // bound here is what keeps the run clear of wasm32's 4 GB.
  assert.ok(st.memory_mb <= 3072, `the Worker's WebAssembly memory is ${st.memory_mb} MB`);
  assert.match(await text("#st-mem"), /MB/);

  const out = mkdtempSync(join(tmpdir(), "webtune-base-adapter-"));
  for (const file of ["adapter_config.json", "adapter_model.safetensors"]) {
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click(`[data-download="${file}"]`)]);
    await dl.saveAs(join(out, file));
  }
  const buf = readFileSync(join(out, "adapter_model.safetensors"));
  const header = JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString());
  for (let l = 0; l < 6; l++) {
    assert.deepEqual(header[`base_model.model.distilbert.transformer.layer.${l}.attention.q_lin.lora_A.weight`].shape, [8, 768]);
    assert.deepEqual(header[`base_model.model.distilbert.transformer.layer.${l}.attention.v_lin.lora_B.weight`].shape, [768, 8]);
  }
  assert.deepEqual(header["base_model.model.pre_classifier.weight"].shape, [768, 768]);

  const trained = st.run.after.accuracy;
  await page.setInputFiles("#adapter-files", [join(out, "adapter_config.json"), join(out, "adapter_model.safetensors")]);
  await page.waitForFunction(() => document.querySelector("#adapter-status").textContent.startsWith("Imported adapter"), null, { timeout: 300_000 });
  const back = await page.evaluate(async () => (await import("/js/client.mjs")).json("/api/status"));
  assert.equal(back.run.after.accuracy, trained, "the imported adapter evaluates as the trained one");
  writeFileSync(join(OUT, "base-size.json"), JSON.stringify({ history: st.run.history, micro_batch: st.run.micro_batch, memory_mb: st.memory_mb, accuracy: trained }, null, 2));
});

test("every request went to the page's origin or the hub", () => {
  const allowed = [new URL(pageURL).origin, new URL(hubURL).origin];
  const foreign = requests.filter((u) => !u.startsWith("data:") && !u.startsWith("blob:") && !allowed.includes(new URL(u).origin));
  assert.deepEqual(foreign, []);
  assert.ok(requests.some((u) => u.startsWith(hubURL)), "the hub was contacted");
  writeFileSync(join(OUT, "requests.txt"), requests.join("\n"));
});
