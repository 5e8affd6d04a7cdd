// Assembles simd.wat into simd.wasm with wabt (SIMD is a finished feature,
// on by default), and into a second module whose imported memory is shared
// (threads), for the helper workers that run part of a product on a
// SharedArrayBuffer (js/team.mjs). One source, two memory declarations.
// Usage: node build.mjs simd.wat simd.wasm simd-shared.wasm
import { readFileSync, writeFileSync } from "node:fs";
import wabtInit from "wabt";

const [src, out, sharedOut] = process.argv.slice(2);
const wabt = await wabtInit();
const text = readFileSync(src, "utf8");
const plain = '(import "env" "memory" (memory 1))';
if (!text.includes(plain)) throw new Error(`${src}: expected the memory import ${plain}`);

function assemble(wat, file, features) {
  const mod = wabt.parseWat(src, wat, features);
  mod.validate(features);
  const { buffer } = mod.toBinary({ log: false });
  writeFileSync(file, buffer);
  console.log(`wrote ${file}: ${buffer.length} bytes`);
}
assemble(text, out, { simd: true });
if (sharedOut) assemble(text.replace(plain, '(import "env" "memory" (memory 1 65536 shared))'), sharedOut, { simd: true, threads: true });
