// Start the engine in its dedicated module Worker and talk to it through Comlink.

import * as Comlink from 'comlink';
import type { WorkerApi } from '../worker/engine-worker';
import { installErrorTransfer } from './error-transfer';

export type WorkerEngine = Comlink.Remote<WorkerApi> & { terminate(): void };

export function startWorkerEngine(): WorkerEngine {
  installErrorTransfer();
  const worker = new Worker(new URL('../worker/engine-worker.ts', import.meta.url), { type: 'module', name: 'xquant-engine' });
  const remote = Comlink.wrap<WorkerApi>(worker);
  return Object.assign(remote, { terminate: () => worker.terminate() }) as WorkerEngine;
}
