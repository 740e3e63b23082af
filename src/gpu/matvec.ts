// The f32 matrix-vector kernel (shaders/matvec-f32-gemv.wgsl), used by the GPU smoke tests in Node and in
// the browser Worker. The WGSL text is passed in: Vite bundles it with `?raw`, Node reads the file.

export async function gpuMatvec(
  device: GPUDevice,
  shader: string,
  w: Float32Array<ArrayBuffer>,
  rows: number,
  cols: number,
  x: Float32Array<ArrayBuffer>,
  bias: Float32Array<ArrayBuffer> | null = null,
): Promise<Float32Array> {
  const storage = (data: Float32Array<ArrayBuffer>) => {
    const b = device.createBuffer({ size: Math.max(16, data.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(b, 0, data);
    return b;
  };
  const dims = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(dims, 0, new Uint32Array([rows, cols, bias ? 1 : 0, 0]));
  const out = device.createBuffer({ size: rows * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: rows * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const pipeline = await device.createComputePipelineAsync({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code: shader }), entryPoint: 'main' },
  });
  const buffers = [dims, storage(w), storage(x), storage(bias ?? new Float32Array(4)), out];
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(Math.ceil(rows / 64));
  pass.end();
  enc.copyBufferToBuffer(out, 0, read, 0, rows * 4);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const result = new Float32Array(read.getMappedRange().slice(0));
  read.unmap();
  for (const b of [...buffers, read]) b.destroy();
  return result;
}
