// Test page: exposes the Worker engine to Playwright as window.engine.
import { startWorkerEngine } from '../../src/client/worker-engine';

(window as unknown as { engine: unknown }).engine = startWorkerEngine();
document.getElementById('result')!.textContent = 'ready';
