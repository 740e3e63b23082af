import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sharedPath } from '../test-support/shared-models';
import { GgufModelSource } from './gguf-model';
import { loadModel } from './load-model';
import { PickedFilesSource, resolveModelRef } from './model-ref';
import { UrlFolderSource } from './url-file-source';

const PAGE = 'https://site.example/app/';

describe('model references', () => {
  it('repo ids and folder URLs are folders', () => {
    const hub = resolveModelRef('owner/name', PAGE);
    expect(hub).toMatchObject({ id: 'hub:https://huggingface.co/owner/name', revision: 'main', name: 'owner/name' });
    expect(hub.source).toBeInstanceOf(UrlFolderSource);
    expect(resolveModelRef('./models/x', PAGE).source.name).toBe('https://site.example/app/models/x');
    expect(resolveModelRef('../x', PAGE).source.name).toBe('https://site.example/x');
    expect(resolveModelRef('http://localhost:8000/m', PAGE).source.name).toBe('http://localhost:8000/m');
  });

  it('text that is neither a repo id nor a URL is a typed error, not a path under the page', () => {
    for (const text of ['SmolLM2', 'my model', 'owner/name/extra', 'hf.co model']) {
      expect(() => resolveModelRef(text, PAGE), text).toThrow(/model: neither a Hugging Face repo id nor a URL; expected a Hugging Face repo id/);
    }
    expect(() => resolveModelRef(' ', PAGE)).toThrow(/empty model reference/);
  });

  it('a .gguf URL, a Hub file and one picked .gguf file are GGUF models', () => {
    const url = resolveModelRef('/files/Model-Q4_0.gguf', PAGE);
    expect(url).toMatchObject({ id: 'url:https://site.example/files/Model-Q4_0.gguf', name: 'Model-Q4_0.gguf' });
    expect(url.source).toBeInstanceOf(GgufModelSource);
    expect((url.source as GgufModelSource).file).toBe('Model-Q4_0.gguf');
    expect((url.source as GgufModelSource).inner.name).toBe('https://site.example/files');

    const hub = resolveModelRef({ hub: 'org/repo-GGUF', file: 'm-q8_0.gguf', revision: 'v1' }, PAGE);
    expect(hub).toMatchObject({ id: 'hub:https://huggingface.co/org/repo-GGUF/m-q8_0.gguf', revision: 'v1', name: 'org/repo-GGUF/m-q8_0.gguf' });
    expect(hub.source.name).toBe('https://huggingface.co/org/repo-GGUF/resolve/v1/m-q8_0.gguf');
    expect(() => resolveModelRef({ hub: 'org/repo', file: '../x.gguf' }, PAGE)).toThrow(/model\.file/);
    expect(() => resolveModelRef({ hub: 'org/repo', file: 'model.safetensors' }, PAGE)).toThrow(/model\.file/);

    const file = new File([new Uint8Array(4)], 'picked.gguf', { lastModified: 5 });
    const picked = resolveModelRef({ files: [file] }, PAGE);
    expect(picked).toMatchObject({ id: 'files:picked.gguf', revision: '4:5', name: 'picked.gguf' });
    expect((picked.source as GgufModelSource).inner).toBeInstanceOf(PickedFilesSource);
    expect(() => resolveModelRef({ files: [file, new File([], 'b.gguf')] }, PAGE)).toThrow(/more than one \.gguf/);
  });

  it('a picked .gguf file loads whole (File.slice ranges)', async () => {
    const bytes = readFileSync(sharedPath('models/stories260K/original/stories260K.gguf'));
    const m = await loadModel(resolveModelRef({ files: [new File([bytes], 'stories260K.gguf')] }, PAGE).source);
    expect(m.spec.numLayers).toBe(5);
    expect(m.tokenizer.encode('Once upon a time')).toEqual([403, 407, 261, 378]);
  });
});
