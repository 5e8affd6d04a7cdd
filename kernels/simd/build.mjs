// Assembles simd.wat with wabt (SIMD is a finished feature, on by default)
// into four modules from the one source:
//   simd.wasm             the kernels on Go's memory;
//   simd-shared.wasm      the same on a shared memory, for the helper
//                         threads of js/team.mjs;
//   simd-fma.wasm,        both again with the matrix kernel's multiply-adds
//   simd-fma-shared.wasm  as relaxed-SIMD f32x4.relaxed_madd (one fused
//                         multiply-add where the CPU has it: 1.35× faster);
//                         hosts load them where WebAssembly.validate accepts
//                         them (relaxed SIMD), the plain ones elsewhere.
// Usage: node build.mjs simd.wat (writes next to it)
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import wabtInit from "wabt";

const src = process.argv[2];
const wabt = await wabtInit();
const text = readFileSync(src, "utf8");

const plainMemory = '(import "env" "memory" (memory 1))';
const sharedMemory = '(import "env" "memory" (memory 1 65536 shared))';
if (!text.includes(plainMemory)) throw new Error(`${src}: expected the memory import ${plainMemory}`);
const shared = (wat) => wat.replace(plainMemory, sharedMemory);

// gemm's micro-kernel accumulates c += a·b as (f32x4.add c (f32x4.mul a b));
// the FMA build fuses each of its eight.
const madd = /\(local\.set \$(c\d\d) \(f32x4\.add \(local\.get \$\1\) \(f32x4\.mul \(local\.get \$av\) \(local\.get \$(b\d)\)\)\)\)/g;
function fma(wat) {
  const n = wat.match(madd)?.length ?? 0;
  if (n !== 8) throw new Error(`${src}: expected gemm's 8 multiply-adds, found ${n}`);
  return wat.replace(madd, "(local.set $$$1 (f32x4.relaxed_madd (local.get $$av) (local.get $$$2) (local.get $$$1)))");
}

function assemble(wat, name, features) {
  const mod = wabt.parseWat(src, wat, features);
  mod.validate(features);
  const { buffer } = mod.toBinary({ log: false });
  const file = join(dirname(src), name);
  writeFileSync(file, buffer);
  console.log(`wrote ${file}: ${buffer.length} bytes`);
}
assemble(text, "simd.wasm", { simd: true });
assemble(shared(text), "simd-shared.wasm", { simd: true, threads: true });
assemble(fma(text), "simd-fma.wasm", { simd: true, relaxed_simd: true });
assemble(shared(fma(text)), "simd-fma-shared.wasm", { simd: true, threads: true, relaxed_simd: true });
