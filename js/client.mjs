// The page's side of the Worker: api(path, init) behaves like fetch() and
// returns a Response whose body streams from the Go program in the Worker.
//
// If the Go program dies (out of memory, a crash), the pending requests fail,
// the Worker is ended and whenCrashed's handler hears why; restartWorker
// starts a fresh one.
let worker;
let nextId = 1;
const pending = new Map();
let readyResolve, readyReject, started = false;
export let ready;
let onCrash = () => {};

// whenCrashed sets what happens when the Go program dies after it started.
export function whenCrashed(fn) { onCrash = fn; }

let dead = false; // between a crash and the restart: requests fail at once

function crashed(message) {
  dead = true;
  for (const p of pending.values()) p.fail(new Error(`the training program stopped: ${message}`));
  pending.clear();
  worker.terminate();
  started = false;
  onCrash(message);
}

// restartWorker starts a fresh Worker (a fresh Go program) and waits for it.
export async function restartWorker() {
  startWorker();
  await ready;
}

// simulateCrash makes the Worker report a fatal error as a dying Go program
// does (the end-to-end tests check the page's recovery with it).
export function simulateCrash() { worker.postMessage({ type: "simulate-crash" }); }

export function startWorker() {
  dead = false;
  ready = new Promise((resolve, reject) => { readyResolve = () => { started = true; resolve(); }; readyReject = reject; });
  // ?compute=webgpu|cpu on the page picks the compute path (default: the Go side chooses).
  const url = new URL("./worker.mjs", import.meta.url);
  const compute = new URLSearchParams(location.search).get("compute");
  if (compute) url.searchParams.set("compute", compute);
  worker = new Worker(url, { type: "module", name: "webtune" });
  worker.onmessage = (e) => {
    const m = e.data;
    if (m.type === "ready") return readyResolve();
    if (m.type === "fatal") {
      if (started) return crashed(m.message);
      readyReject(new Error(m.message));
      for (const p of pending.values()) p.fail(new Error(m.message));
      return;
    }
    const p = pending.get(m.id);
    if (!p) return;
    if (m.type === "response") p.respond(m);
    else if (m.type === "chunk") p.controller.enqueue(m.chunk);
    else if (m.type === "end") { p.controller.close(); pending.delete(m.id); }
    else if (m.type === "error") p.fail(new Error(m.message));
  };
  worker.onerror = (e) => {
    if (started) crashed(e.message || "the worker stopped");
    else readyReject(new Error(e.message || "the worker failed to start"));
  };
}

export function api(path, { method = "GET", headers = {}, body = null } = {}) {
  const id = nextId++;
  if (dead) return Promise.reject(new Error("the training program stopped and is restarting"));
  return new Promise((resolve, reject) => {
    const p = { responded: false };
    const stream = new ReadableStream({ start(c) { p.controller = c; } });
    p.respond = (m) => { p.responded = true; resolve(new Response(stream, { status: m.status, headers: m.headers })); };
    p.fail = (err) => {
      pending.delete(id);
      if (p.responded) p.controller.error(err); else reject(err);
    };
    pending.set(id, p);
    worker.postMessage({ type: "request", id, path, method, headers, body });
  });
}

// json calls the API and returns the decoded body, throwing its error text.
export async function json(path, init = {}) {
  if (init.json !== undefined) {
    init = { ...init, method: init.method ?? "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(init.json) };
  }
  const res = await api(path, init);
  const data = await res.json();
  if (!res.ok) throw new Error(data.error ?? `${res.status}`);
  return data;
}

// ndjson calls the API and hands each line of a streamed answer to onEvent.
export async function ndjson(path, body, onEvent) {
  const res = await api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) {
    const data = await res.json();
    throw new Error(data.error ?? `${res.status}`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += value;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) onEvent(JSON.parse(line));
    }
  }
}
