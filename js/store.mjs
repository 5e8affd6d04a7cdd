// Persistence in the Origin Private File System: the session (which model,
// which datasets, which settings), the dataset files themselves and the
// latest training state, so a reload or a crash can resume training.
async function root() {
  const dir = await navigator.storage.getDirectory();
  return dir.getDirectoryHandle("webtune", { create: true });
}

async function subdir(name) {
  return (await root()).getDirectoryHandle(name, { create: true });
}

async function write(dir, name, data) {
  const fh = await dir.getFileHandle(name, { create: true });
  const w = await fh.createWritable();
  await w.write(data);
  await w.close();
}

async function read(dir, name) {
  try {
    return await (await dir.getFileHandle(name)).getFile();
  } catch {
    return null;
  }
}

export const available = () => !!navigator.storage?.getDirectory;

export async function saveSession(session) {
  await write(await root(), "session.json", JSON.stringify(session));
}

export async function loadSession() {
  const f = await read(await root(), "session.json");
  if (!f) return null;
  try { return JSON.parse(await f.text()); } catch { return null; }
}

// Files are stored under a safe name; the original goes into the session.
const key = (name) => encodeURIComponent(name);

export async function saveFile(kind, name, blob) {
  await write(await subdir(kind), key(name), blob);
}

export async function loadFile(kind, name) {
  return read(await subdir(kind), key(name));
}

export async function removeFile(kind, name) {
  try { await (await subdir(kind)).removeEntry(key(name)); } catch { /* already gone */ }
}

// A writable stream writes to a swap file and replaces the old file only on
// close(), so a crash mid-write leaves the previous state intact.
export async function saveState(bytes) {
  await write(await root(), "state.safetensors", bytes);
}

export async function loadState() {
  return read(await root(), "state.safetensors");
}

export async function clearRun() {
  const r = await root();
  try { await r.removeEntry("state.safetensors"); } catch { /* ignore */ }
}

export async function clearAll() {
  const dir = await navigator.storage.getDirectory();
  try { await dir.removeEntry("webtune", { recursive: true }); } catch { /* ignore */ }
}
