// npm run fixtures: fetches the third-party files tests read as oracles into .cache/ (ignored by git), once. When
// the fetch fails (no network) it says so and exits 0: only the tests that read these files then fail, each naming
// the missing file, as tests needing ../shared do.
// llama.cpp's tokenizer test vocabularies and chat templates come from the npm tarball of node-llama-cpp, which
// carries llama.cpp's source as a git bundle; the tarball's hash and the bundle's commit are pinned
// (src/test-support/llama-cpp-files.ts), so every machine tests against the same bytes.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LLAMA_CPP_DIR, LLAMA_CPP_FILES, LLAMA_CPP_SOURCE } from '../src/test-support/llama-cpp-files';

function run(cmd: string, args: string[], cwd?: string): Buffer {
  return execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
}

const complete = (dir: string) => LLAMA_CPP_FILES.every((f) => existsSync(join(dir, f)));

function fetchLlamaCpp(): void {
  if (complete(LLAMA_CPP_DIR)) {
    console.log(`fixtures: llama.cpp ${LLAMA_CPP_SOURCE.commit.slice(0, 10)} files present in ${LLAMA_CPP_DIR}`);
    return;
  }
  // Staged beside the target (one file system, so the rename is atomic), never in /tmp (often a tmpfs).
  mkdirSync(dirname(LLAMA_CPP_DIR), { recursive: true });
  const work = mkdtempSync(join(dirname(LLAMA_CPP_DIR), '.fixtures-'));
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
    // Another run may have finished meanwhile: its copy stays. A partial one (a run killed before this rename
    // existed) is moved aside first, so the rename lands whole: tests never see half a fetch.
    if (!complete(LLAMA_CPP_DIR)) {
      if (existsSync(LLAMA_CPP_DIR)) renameSync(LLAMA_CPP_DIR, join(work, 'old'));
      renameSync(staged, LLAMA_CPP_DIR);
    }
    console.log(`fixtures: wrote ${LLAMA_CPP_FILES.length} llama.cpp files to ${LLAMA_CPP_DIR}`);
    // Copies of earlier pinned commits are no longer read.
    const root = dirname(LLAMA_CPP_DIR);
    for (const d of readdirSync(root))
      if (d.startsWith('llama.cpp-') && join(root, d) !== LLAMA_CPP_DIR) rmSync(join(root, d), { recursive: true, force: true });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  fetchLlamaCpp();
} catch (e) {
  console.warn(`fixtures: could not fetch ${LLAMA_CPP_SOURCE.npm} (${(e as Error).message}); the tests that read its files will fail naming them`);
}
