// WebGPU glue for the Go program: a device, the matmul pipeline (WGSL from
// kernels/webgpu, handed over by Go), pipelines for fused element-wise
// programs (WGSL that Go generates), and a table of GPU buffers that Go
// refers to by number. Tensors stay on the GPU between Go's device steps:
// Go uploads a value once (frozen weights once per training run), chains
// dispatches on buffers already there, and reads back only what the CPU
// needs. Everything is synchronous except download(), whose Promise Go
// awaits from a goroutine; the queue keeps the dispatches in order.
export async function initGPU(gpu, memory, wgsl) {
  const adapter = await gpu?.requestAdapter();
  if (!adapter) throw new Error("no WebGPU adapter");
  // The default 128 MiB binding limit is too small for large embedding
  // tables, and 8 storage buffers too few for long fused programs: ask for
  // what the adapter has.
  const requiredLimits = {
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
  };
  const device = await adapter.requestDevice({ requiredLimits });
  let lost = "";
  device.lost.then((info) => { lost = `WebGPU device lost: ${info.message || info.reason}`; });
  device.addEventListener?.("uncapturederror", (e) => { lost ||= `WebGPU error: ${e.error?.message}`; });
  const matmulPipeline = device.createComputePipeline({ layout: "auto", compute: { module: device.createShaderModule({ code: wgsl }), entryPoint: "main" } });
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(" ") || "WebGPU adapter";
  const emulated = !!adapter.isFallbackAdapter || /swiftshader|llvmpipe/i.test(`${name} ${info.device ?? ""}`);

  const buffers = new Map(); // number -> GPUBuffer
  let next = 1;
  const check = () => { if (lost) throw new Error(lost); };
  // Released buffers are kept by size and handed out again: a step
  // allocates the same sizes every time, and creating (and zeroing) a GPU
  // buffer per dispatch cost more than the dispatch on a real GPU. A buffer
  // released while recorded work still reads it can take a later
  // dispatch's output at once (the queue runs dispatches in order), but
  // not an upload (queue.writeBuffer runs before the recorded work), so
  // uploads always get a new buffer. At most 1 GiB is kept.
  const pool = new Map(); // byte size -> [GPUBuffer]
  let pooled = 0;
  const byteSize = (floats) => Math.max(16, Math.ceil((floats * 4) / 16) * 16);
  function create(size) {
    return device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
  }
  function alloc(floats) {
    check();
    const size = byteSize(floats);
    let b = pool.get(size)?.pop();
    if (b) pooled -= size;
    else b = create(size);
    buffers.set(next, b);
    return next++;
  }
  // upload copies floats from Go's memory into a new GPU buffer.
  function upload(addr, floats) {
    check();
    const b = create(byteSize(floats));
    device.queue.writeBuffer(b, 0, new Float32Array(memory.buffer, addr, floats));
    buffers.set(next, b);
    return next++;
  }
  // download copies a GPU buffer's first floats into Go's memory.
  async function download(id, addr, floats) {
    check();
    const src = buffers.get(id);
    const read = device.createBuffer({ size: Math.max(16, Math.ceil((floats * 4) / 16) * 16), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    flush();
    const copy = device.createCommandEncoder();
    copy.copyBufferToBuffer(src, 0, read, 0, read.size);
    device.queue.submit([copy.finish()]);
    try {
      await read.mapAsync(GPUMapMode.READ);
      check();
      // A fresh view: Go's memory may have grown (and its buffer changed) meanwhile.
      new Float32Array(memory.buffer, addr, floats).set(new Float32Array(read.getMappedRange(), 0, floats));
      read.unmap();
    } finally {
      read.destroy();
    }
  }
  function release(id) {
    const b = buffers.get(id);
    buffers.delete(id);
    if (!b) return;
    if (pooled + b.size > 1 << 30) {
      enc ? doomed.push(b) : b.destroy();
      return;
    }
    if (!pool.has(b.size)) pool.set(b.size, []);
    pool.get(b.size).push(b);
    pooled += b.size;
  }
  // Dispatches are recorded into one compute pass and submitted together
  // (every 512, or before a read-back): a real GPU's step is thousands of
  // small dispatches, and a submit each costs more than the work. Buffers
  // released meanwhile are destroyed after the submit that uses them.
  // Uniform buffers are reused once the submit that read them is made
  // (their next contents are written after it in the queue's order).
  let enc = null, pass = null, recorded = 0, doomed = [], usedUniforms = [];
  const uniforms = new Map(); // byte size -> [GPUBuffer]
  function flush() {
    if (enc) {
      pass.end();
      device.queue.submit([enc.finish()]);
      enc = pass = null;
      recorded = 0;
    }
    for (const b of doomed) b.destroy();
    doomed = [];
    for (const u of usedUniforms) {
      if (!uniforms.has(u.size)) uniforms.set(u.size, []);
      uniforms.get(u.size).push(u);
    }
    usedUniforms = [];
  }
  function dispatch(pipeline, ids, uniform, x, y, z) {
    check();
    const entries = ids.map((id, binding) => ({ binding, resource: { buffer: buffers.get(id) } }));
    if (uniform) {
      const size = Math.max(64, Math.ceil(uniform.length / 4) * 16);
      const u = uniforms.get(size)?.pop() ?? device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(u, 0, new Uint32Array(uniform));
      entries.push({ binding: ids.length, resource: { buffer: u } });
      usedUniforms.push(u);
    }
    const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    if (!enc) {
      enc = device.createCommandEncoder();
      pass = enc.beginComputePass();
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(x, y, z);
    if (++recorded >= 512) flush();
  }
  // matmul(a, b, c, params: 16 u32 as in matmul.wgsl): c ← a·b, all on the GPU.
  function matmul(a, b, c, params) {
    const [M, N, , batch] = params;
    dispatch(matmulPipeline, [a, b, c], params, Math.ceil(N / 64), Math.ceil(M / 32), batch); // 32×64 per workgroup
  }
  // compile(wgsl) builds the pipeline of a fused program (Go generates the
  // WGSL once per program) and returns its number for fused().
  const programs = [];
  function compile(code) {
    check();
    programs.push(device.createComputePipeline({ layout: "auto", compute: { module: device.createShaderModule({ code }), entryPoint: "main" } }));
    return programs.length - 1;
  }
  // fused(program, inputs, outputs, size): a compiled program over size
  // elements, 256 per workgroup, rows of at most 65535 workgroups.
  function fused(program, inputs, outputs, size) {
    const groups = Math.ceil(size / 256);
    dispatch(programs[program], [...inputs, ...outputs], null, Math.min(groups, 65535), Math.ceil(groups / 65535), 1);
  }
  // reduce(program, x, y, rows, cols, op): the row reductions of
  // kernels/webgpu/reduce.wgsl (compiled with compile()), one workgroup a row.
  function reduce(program, x, y, rows, cols, op) {
    dispatch(programs[program], [x, y], [rows, cols, op, 0], Math.min(rows, 65535), Math.ceil(rows / 65535), 1);
  }
  // run(program, buffers, uniform, x, y, z): any compiled shader whose
  // bindings are the buffers then a uniform of 32-bit words, on x × y × z workgroups.
  function run(program, ids, uniform, x, y, z = 1) {
    dispatch(programs[program], ids, uniform, x, y, z);
  }
  // sync() submits what is recorded and resolves when the GPU has done it
  // all (profiling: timing each dispatch alone).
  function sync() {
    flush();
    return device.queue.onSubmittedWorkDone();
  }
  return {
    name, emulated, sync, maxStorageBuffers: device.limits.maxStorageBuffersPerShaderStage,
    alloc, upload, download, release, matmul, compile, fused, reduce, run,
  };
}
