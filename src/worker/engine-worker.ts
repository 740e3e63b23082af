// The dedicated Worker that owns the WebGPU device and runs the engine; the page talks to it through
// Comlink (src/client/create-engine.ts). Built as a module worker for the demo and as a classic script
// for the drop-in tag; it uses neither eval nor wasm.

import * as Comlink from 'comlink';
import { installErrorTransfer } from '../client/error-transfer';
import { BUNDLED_SHADERS } from '../webgpu/shaders-bundled';
import { IdbChunkStore } from '../storage/idb-chunk-store';
import { EngineHost } from './engine-host';

const idb = typeof indexedDB !== 'undefined';
const host = new EngineHost(
  self.navigator.gpu,
  BUNDLED_SHADERS,
  idb ? new IdbChunkStore() : null,
  self.location.href,
  idb ? new IdbChunkStore('xquant-web-conversations', 'conversations') : null,
  idb ? new IdbChunkStore('xquant-web-device', 'profiles') : null,
);

export type WorkerApi = EngineHost;

installErrorTransfer();
Comlink.expose(host);
