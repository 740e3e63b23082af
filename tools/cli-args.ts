// A tiny, strict argument parser for the CLIs: unknown or malformed flags print the usage and exit 2.

export type FlagKind = 'string' | 'int' | 'bool';

export class UsageError extends Error {}

export function parseArgs<T extends Record<string, FlagKind>>(
  argv: string[],
  flags: T,
): { [K in keyof T]?: T[K] extends 'bool' ? boolean : T[K] extends 'int' ? number : string } {
  const out: Record<string, string | number | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const name = arg.slice(2);
    const kind = flags[name];
    if (!kind) throw new UsageError(`unknown flag '${arg}'`);
    if (kind === 'bool') {
      out[name] = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`flag '${arg}' needs a value`);
    if (kind === 'int') {
      if (!/^-?\d+$/.test(value)) throw new UsageError(`flag '${arg}' needs an integer, got '${value}'`);
      out[name] = Number(value);
    } else out[name] = value;
  }
  return out as never;
}

/** Run a CLI body: usage errors exit 2 with the usage line, any other error exits 1 with its message. */
export async function runCli(usage: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\nusage: ${usage}\n`);
      process.exit(2);
    }
    const err = e as Error & { code?: string };
    process.stderr.write(`error${err.code ? ` [${err.code}]` : ''}: ${err.message}\n`);
    process.exit(1);
  }
}

/** --memory-budget-mb: a positive number of MiB (fractions allowed), 256 when absent. */
export function budgetMb(v: string | undefined): number {
  if (v === undefined) return 256;
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`--memory-budget-mb needs a positive number of MiB, got '${v}'`);
  return n;
}
