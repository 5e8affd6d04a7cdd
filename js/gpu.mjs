// WebGPU glue for the Go program: a device, the matmul pipeline (WGSL from
// kernels/webgpu, handed over by Go), and matmul(), which reads the operands
// straight out of the Go program's memory and writes the product back into
// it. Go awaits the returned Promise from a goroutine.
export async function initGPU(gpu, memory, wgsl) {
  const adapter = await gpu?.requestAdapter();
  if (!adapter) throw new Error("no WebGPU adapter");
  // The default 128 MiB binding limit is too small for large embedding tables: ask for what the adapter has.
  const requiredLimits = {
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
  };
  const device = await adapter.requestDevice({ requiredLimits });
  let lost = "";
  device.lost.then((info) => { lost = `WebGPU device lost: ${info.message || info.reason}`; });
  const module = device.createShaderModule({ code: wgsl });
  const pipeline = await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" } });
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(" ") || "WebGPU adapter";
  const emulated = !!adapter.isFallbackAdapter || /swiftshader|llvmpipe/i.test(`${name} ${info.device ?? ""}`);

  const storage = (floats) => device.createBuffer({ size: Math.max(16, Math.ceil((floats * 4) / 16) * 16), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });

  // matmul(aAddr, aLen, bAddr, bLen, cAddr, cLen, params: 16 u32 as in matmul.wgsl)
  async function matmul(aAddr, aLen, bAddr, bLen, cAddr, cLen, params) {
    if (lost) throw new Error(lost);
    const a = storage(aLen), b = storage(bLen), c = storage(cLen);
    device.queue.writeBuffer(a, 0, new Float32Array(memory.buffer, aAddr, aLen));
    device.queue.writeBuffer(b, 0, new Float32Array(memory.buffer, bAddr, bLen));
    const u = device.createBuffer({ size: 64, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(u, 0, new Uint32Array(params));
    const read = device.createBuffer({ size: c.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [a, b, c, u].map((buffer, binding) => ({ binding, resource: { buffer } })) });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    const [M, N, , batch] = params;
    pass.dispatchWorkgroups(Math.ceil(N / 64), Math.ceil(M / 32), batch); // 32×64 per workgroup, as in matmul.wgsl
    pass.end();
    enc.copyBufferToBuffer(c, 0, read, 0, c.size);
    device.queue.submit([enc.finish()]);
    try {
      await read.mapAsync(GPUMapMode.READ);
      // A fresh view: Go's memory may have grown (and its buffer changed) meanwhile.
      new Float32Array(memory.buffer, cAddr, cLen).set(new Float32Array(read.getMappedRange(), 0, cLen));
      read.unmap();
    } finally {
      for (const x of [a, b, c, u, read]) x.destroy();
    }
    if (lost) throw new Error(lost);
  }
  return { name, emulated, matmul };
}
