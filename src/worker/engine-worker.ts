// The dedicated module Worker that owns the WebGPU device and runs the engine; the page talks to it
// through Comlink (src/client/worker-engine.ts).

import * as Comlink from 'comlink';
import { Engine, type GenerateRequest, type GenerateResult, type LoadOptions, type MemoryInfo, type ModelSummary } from '../engine/engine';
import { installErrorTransfer } from '../client/error-transfer';
import { BUNDLED_SHADERS } from '../gpu/shaders-bundled';
import { UrlFolderSource } from '../model/url-file-source';

const engine = new Engine(self.navigator.gpu, BUNDLED_SHADERS);

/** What the Worker exposes. Model folders are URL prefixes, resolved against the page's origin. */
export const workerApi = {
  load(folderUrl: string, o: LoadOptions = {}): Promise<ModelSummary> {
    return engine.load(new UrlFolderSource(new URL(folderUrl, self.location.href).href), o);
  },
  generate(r: GenerateRequest): Promise<GenerateResult> {
    return engine.generate(r);
  },
  memory(context?: number): MemoryInfo {
    return engine.memory(context);
  },
  unload(): void {
    engine.unload();
  },
};

export type WorkerApi = typeof workerApi;

installErrorTransfer();
Comlink.expose(workerApi);
