// Test page: exposes the public API's engine to Playwright as window.engine, and the error classes.
import { createEngine } from '../../src/client/index';
import * as errors from '../../src/errors';

const hubBase = new URLSearchParams(location.search).get('hubBase') ?? undefined;
Object.assign(window, { engine: createEngine({ hubBase }), createFresh: () => createEngine({ hubBase }), errors });
document.getElementById('result')!.textContent = 'ready';
