// Downloads a model from a Hugging Face hub (or anything with its URL layout,
// {endpoint}/{repo}/resolve/{revision}/{file}) with byte-level progress, and
// keeps the files in Cache Storage so later and offline visits load from it.
const CACHE = "webtune-hub-v1";

// Files a DistilBERT classifier needs; one of the tokenizer files must exist.
const REQUIRED = ["config.json", "model.safetensors"];
const OPTIONAL = ["tokenizer.json", "tokenizer_config.json", "vocab.txt"];

export function fileURL(endpoint, repo, revision, file) {
  return `${endpoint.replace(/\/+$/, "")}/${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
}

async function cached(cache, url) {
  try { return await cache.match(url); } catch { return undefined; }
}

// download returns {name: Blob}; onProgress({loaded, total, file, fromCache}).
export async function download({ endpoint, repo, revision = "main", onProgress = () => {} }) {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repo)) throw new Error(`"${repo}" is not a hub repo id (like distilbert-base-uncased or user/model)`);
  const cache = await caches.open(CACHE);
  const files = {};
  const sizes = {};
  const loaded = {};
  const report = (file, fromCache) => onProgress({
    file, fromCache,
    loaded: Object.values(loaded).reduce((a, b) => a + b, 0),
    total: Object.values(sizes).reduce((a, b) => a + b, 0),
  });
  for (const name of [...REQUIRED, ...OPTIONAL]) {
    if (name === "vocab.txt" && files["tokenizer.json"]) continue;
    const url = fileURL(endpoint, repo, revision, name);
    const hit = await cached(cache, url);
    if (hit) {
      files[name] = await hit.blob();
      sizes[name] = loaded[name] = files[name].size;
      report(name, true);
      continue;
    }
    let res;
    try {
      res = await fetch(url, { mode: "cors", credentials: "omit", cache: "no-store" });
    } catch (e) {
      throw new Error(`${name}: cannot reach ${endpoint} (offline, or the endpoint does not allow this page): ${e.message}`);
    }
    if (res.status === 404 && OPTIONAL.includes(name)) continue;
    if (!res.ok) throw new Error(`${name}: ${url} answered ${res.status} ${res.statusText}`);
    sizes[name] = Number(res.headers.get("Content-Length")) || 0;
    loaded[name] = 0;
    const reader = res.body.getReader();
    const parts = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      loaded[name] += value.length;
      sizes[name] = Math.max(sizes[name], loaded[name]);
      report(name, false);
    }
    files[name] = new Blob(parts);
    await cache.put(url, new Response(files[name], { headers: { "Content-Type": "application/octet-stream", "Content-Length": String(files[name].size) } }));
  }
  if (!files["tokenizer.json"] && !files["vocab.txt"]) throw new Error(`${repo} has neither tokenizer.json nor vocab.txt`);
  return files;
}

// isCached tells whether every required file of a repo is in the cache.
export async function isCached(endpoint, repo, revision = "main") {
  const cache = await caches.open(CACHE);
  for (const name of REQUIRED) if (!(await cached(cache, fileURL(endpoint, repo, revision, name)))) return false;
  return true;
}
