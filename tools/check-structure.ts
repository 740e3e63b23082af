// `npm run lint`'s structural half (Biome does formatting and lint rules): no import circles in src/ (type
// imports count too: a circle of types still ties the files together), the engine imports nothing but types
// from a backend's folder, and no source file is longer than MAX_LINES.
// Exits 1 listing every violation.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '..');
const MAX_LINES = 600;

function walk(dir: string, ends: readonly string[]): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return walk(path, ends);
    return ends.some((e) => name.endsWith(e)) ? [path] : [];
  });
}

/** Relative imports of a file resolved to files (import, export from, import(), import type). */
function importsOf(file: string, known: ReadonlySet<string>): { target: string; typeOnly: boolean }[] {
  const text = readFileSync(file, 'utf8');
  const typeOnly = new Set([...text.matchAll(/^import type [^;]*? from '([^']+)';/gm)].map((m) => m[1]));
  return ts.preProcessFile(text, true, true).importedFiles.flatMap(({ fileName }) => {
    if (!fileName.startsWith('.')) return [];
    const base = resolve(dirname(file), fileName);
    const target = [base, `${base}.ts`, join(base, 'index.ts')].find((c) => known.has(c));
    return target ? [{ target, typeOnly: typeOnly.has(fileName) }] : [];
  });
}

/** Strongly connected components of more than one file (or a file importing itself): the import circles. */
function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const part: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        part.push(w);
      } while (w !== v);
      if (part.length > 1 || graph.get(v)?.includes(v)) out.push(part.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

const problems: string[] = [];
const src = walk(join(ROOT, 'src'), ['.ts']);
const known = new Set(src);
const graph = new Map<string, string[]>();
for (const file of src) {
  const imports = importsOf(file, known);
  graph.set(
    file,
    imports.map((i) => i.target),
  );
  const rel = relative(ROOT, file);
  if (rel.startsWith('src/engine/') && !rel.endsWith('.test.ts')) {
    for (const i of imports) {
      const to = relative(ROOT, i.target);
      if (to.startsWith('src/webgpu/') && !i.typeOnly)
        problems.push(`${rel} imports ${to}: the engine takes its backend from a factory and may import only types from a backend`);
    }
  }
}
for (const c of circles(graph)) problems.push(`import circle: ${c.map((f) => relative(ROOT, f)).join(' <-> ')}`);

for (const file of [...src, ...walk(join(ROOT, 'tools'), ['.ts']), ...walk(join(ROOT, 'e2e'), ['.ts']), ...walk(join(ROOT, 'shaders'), ['.wgsl'])]) {
  const lines = readFileSync(file, 'utf8').split('\n').length - 1;
  if (lines > MAX_LINES) problems.push(`${relative(ROOT, file)}: ${lines} lines (at most ${MAX_LINES}: split it by meaning)`);
}

if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`structure: ${src.length} files in src/, no import circles, none over ${MAX_LINES} lines`);
