// Test page: exposes the public API's engine to Playwright as window.engine, and the error classes.
import { createEngine } from '../../src/client/index';
import * as errors from '../../src/errors';

Object.assign(window, { engine: createEngine(), errors });
document.getElementById('result')!.textContent = 'ready';
