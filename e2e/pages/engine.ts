// Test page: exposes the Worker engine to Playwright as window.engine.
import { startWorkerEngine } from '../../src/client/worker-engine';
import * as errors from '../../src/errors';

Object.assign(window, { engine: startWorkerEngine(), errors });
document.getElementById('result')!.textContent = 'ready';
