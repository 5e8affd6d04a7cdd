// Assembles simd.wat into simd.wasm with wabt (SIMD is a finished feature,
// on by default). Usage: node build.mjs simd.wat simd.wasm
import { readFileSync, writeFileSync } from "node:fs";
import wabtInit from "wabt";

const [src, out] = process.argv.slice(2);
const wabt = await wabtInit();
const mod = wabt.parseWat(src, readFileSync(src, "utf8"), { simd: true });
mod.validate();
const { buffer } = mod.toBinary({ log: false });
writeFileSync(out, buffer);
console.log(`wrote ${out}: ${buffer.length} bytes`);
