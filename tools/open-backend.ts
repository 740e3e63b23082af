// Shared by the CLIs: load a model folder and open the backend asked for, with weights in the format
// asked for (the CPU reference runs on the same quantized values the GPU does).

import { CpuBackend, type Backend } from '../src/engine/backend';
import { WebGpuBackend } from '../src/engine/webgpu-backend';
import { nodeGpu, nodeShaders } from '../src/gpu/node-gpu';
import { loadModel, type LoadedModel } from '../src/model/load-model';
import { NodeFolderSource } from '../src/model/node-file-source';
import { withWeightFormat } from '../src/quant/packed-weights';
import { parseWeightFormat } from '../src/quant/weight-format';
import { UsageError } from './cli-args';

export async function openBackend(modelDir: string, backend: string, weights = 'f32'): Promise<{ model: LoadedModel; backend: Backend }> {
  if (backend !== 'cpu' && backend !== 'webgpu') throw new UsageError(`unknown backend '${backend}' (expected cpu or webgpu)`);
  const format = parseWeightFormat(weights);
  const model = await loadModel(new NodeFolderSource(modelDir));
  if (backend === 'cpu') return { model, backend: new CpuBackend(withWeightFormat(model, format)) };
  return { model, backend: await WebGpuBackend.create(nodeGpu(), nodeShaders(), model, { weights: format }) };
}
