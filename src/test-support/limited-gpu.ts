// A GPU whose adapter reports lower limits than it has, so tests can run the engine as on an adapter that
// grants only WebGPU's guaranteed minimums (16 KiB of workgroup memory, say). The device is then requested
// with those limits and Dawn validates every pipeline against them.

export function limitedGpu(gpu: GPU, limits: Readonly<Record<string, number>>): GPU {
  const wrapLimits = (l: GPUSupportedLimits) => new Proxy(l, { get: (t, k) => (typeof k === 'string' && k in limits ? limits[k] : Reflect.get(t, k, t)) });
  const wrapAdapter = (a: GPUAdapter) =>
    new Proxy(a, {
      get: (t, k) => {
        if (k === 'limits') return wrapLimits(t.limits);
        const v = Reflect.get(t, k, t);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
  return {
    requestAdapter: async (o?: GPURequestAdapterOptions) => {
      const a = await gpu.requestAdapter(o);
      return a && wrapAdapter(a);
    },
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
    wgslLanguageFeatures: gpu.wgslLanguageFeatures,
  } as GPU;
}
