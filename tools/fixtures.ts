// npm run fixtures: fetches the third-party files tests read as oracles into .cache/ (ignored by git), once.
// llama.cpp's tokenizer test vocabularies and chat templates come from the npm tarball of node-llama-cpp, which
// carries llama.cpp's source as a git bundle; the tarball's hash and the bundle's commit are pinned
// (src/test-support/llama-cpp-files.ts), so every machine tests against the same bytes.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { LLAMA_CPP_DIR, LLAMA_CPP_FILES, LLAMA_CPP_SOURCE } from '../src/test-support/llama-cpp-files';

function run(cmd: string, args: string[], cwd?: string): Buffer {
  return execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
}

function fetchLlamaCpp(): void {
  if (LLAMA_CPP_FILES.every((f) => existsSync(join(LLAMA_CPP_DIR, f)))) {
    console.log(`fixtures: llama.cpp ${LLAMA_CPP_SOURCE.commit.slice(0, 10)} files present in ${LLAMA_CPP_DIR}`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'xquant-fixtures-'));
  try {
    console.log(`fixtures: fetching ${LLAMA_CPP_SOURCE.npm} from npm (about 36 MB)`);
    run('npm', ['pack', LLAMA_CPP_SOURCE.npm, '--pack-destination', work, '--silent']);
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${LLAMA_CPP_SOURCE.npm} wrote no tarball`);
    const integrity = `sha512-${createHash('sha512')
      .update(readFileSync(join(work, tgz)))
      .digest('base64')}`;
    if (integrity !== LLAMA_CPP_SOURCE.integrity) throw new Error(`${tgz}: integrity ${integrity}, expected ${LLAMA_CPP_SOURCE.integrity}`);
    run('tar', ['-xzf', tgz, LLAMA_CPP_SOURCE.bundle], work);
    run('git', ['clone', '--quiet', '--bare', LLAMA_CPP_SOURCE.bundle, 'llama.cpp.git'], work);
    const git = join(work, 'llama.cpp.git');
    const head = run('git', ['--git-dir', git, 'rev-parse', 'HEAD']).toString().trim();
    if (head !== LLAMA_CPP_SOURCE.commit) throw new Error(`the bundle's HEAD is ${head}, expected ${LLAMA_CPP_SOURCE.commit}`);
    const staged = join(work, 'out');
    for (const f of LLAMA_CPP_FILES) {
      mkdirSync(dirname(join(staged, f)), { recursive: true });
      writeFileSync(join(staged, f), run('git', ['--git-dir', git, 'show', `${head}:${f}`]));
    }
    mkdirSync(dirname(LLAMA_CPP_DIR), { recursive: true });
    rmSync(LLAMA_CPP_DIR, { recursive: true, force: true });
    renameSync(staged, LLAMA_CPP_DIR); // whole or not at all: tests never see half a fetch
    console.log(`fixtures: wrote ${LLAMA_CPP_FILES.length} llama.cpp files to ${LLAMA_CPP_DIR}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

fetchLlamaCpp();
