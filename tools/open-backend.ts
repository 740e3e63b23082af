// Shared by the CLIs: load a model folder and open the backend asked for.

import { NodeFolderSource } from '../src/model/node-file-source';
import { loadModel, type LoadedModel } from '../src/model/load-model';
import { CpuBackend, type Backend } from '../src/engine/backend';
import { UsageError } from './cli-args';

export async function openBackend(modelDir: string, backend: string): Promise<{ model: LoadedModel; backend: Backend }> {
  if (backend !== 'cpu') {
    throw new UsageError(`backend '${backend}' is not available yet (only 'cpu'; the WebGPU backend is a later issue)`);
  }
  const model = await loadModel(new NodeFolderSource(modelDir));
  return { model, backend: new CpuBackend(model) };
}
