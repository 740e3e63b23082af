// Runs a compiled grammar over code points. A parse position is a stack: its top is the character class
// to match next, the nodes below are where each enclosing rule resumes. Stacks are interned (one id per
// distinct stack, sharing tails), and so are sets of stacks, so a matcher state is one integer. Code points
// fall into symbols (the intervals between the grammar's class boundaries: every code point of a symbol
// matches the same classes), and a step (state, symbol) -> state is memoized in a dense table per state:
// the token-mask walks (token-mask.ts) repeat the same steps millions of times.

import { GrammarError } from '../errors';
import { CHAR, type CompiledGrammar, END, REF, classMatches } from './grammar';

/** The empty stack: the root rule is complete. As a member of a state it means "may end here". */
export const ACCEPT = -1;
/**
 * Stands for "whatever lies below" in a truncated stack (token-mask.ts's frames): reaching it means the
 * outcome depends on the enclosing rules.
 */
export const BOTTOM = -2;
/** The state with no stacks: the input so far is not a prefix of any sentence. */
export const DEAD = 0;
/** Rules entered (or left) in one expansion before it is called left recursion. */
const MAX_EXPANSION = 2000;

export class GrammarMatcher {
  private readonly nodePos: number[] = [];
  private readonly nodeNext: number[] = [];
  private readonly nodeIds = new Map<number, number>();
  private readonly sets: Int32Array[] = [];
  private readonly setIds = new Map<string, number>();
  /** Per state, 1 when it holds BOTTOM. */
  private bottoms = new Uint8Array(1024);
  /** Per state, the next state by symbol (-1: not computed yet). */
  private readonly steps: Int32Array[] = [];
  /** Symbol s covers code points [bounds[s - 1], bounds[s]) (symbol 0 starts at 0). */
  private readonly bounds: Int32Array;
  private readonly ascii = new Int32Array(128);
  readonly initial: number;

  constructor(readonly grammar: CompiledGrammar) {
    const cuts = new Set<number>();
    for (const c of grammar.classes) for (let i = 0; i < c.ranges.length; i += 2) cuts.add(c.ranges[i]).add(c.ranges[i + 1] + 1);
    cuts.delete(0);
    this.bounds = Int32Array.from(cuts).sort();
    for (let cp = 0; cp < 128; cp++) this.ascii[cp] = this.search(cp);
    this.internSet(new Set()); // DEAD
    const out = new Set<number>();
    for (const a of grammar.alternatives[grammar.root]) this.expand(a, ACCEPT, out, new Set());
    this.initial = this.internSet(out);
  }

  /** The stacks of a state (ACCEPT and BOTTOM may be among them). */
  stacks(state: number): Int32Array {
    return this.sets[state];
  }

  /** Whether a state holds BOTTOM (a truncated stack whose rules all ended: what follows depends on what was cut). */
  hasBottom(state: number): boolean {
    return this.bottoms[state] === 1;
  }

  /** Whether the input so far is a whole sentence. */
  accepts(state: number): boolean {
    return this.sets[state].includes(ACCEPT);
  }

  /** Whether some longer input continues the state (false: only ending is possible). */
  canContinue(state: number): boolean {
    return this.sets[state].some((s) => s >= 0);
  }

  /** Symbols: as many as the grammar's classes cut the code points into. */
  get symbols(): number {
    return this.bounds.length + 1;
  }

  /** The symbol of a code point. */
  symbol(cp: number): number {
    return cp < 128 ? this.ascii[cp] : this.search(cp);
  }

  private search(cp: number): number {
    let lo = 0;
    let hi = this.bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.bounds[mid] <= cp) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The state after one more code point (DEAD when nothing matches it). */
  step(state: number, cp: number): number {
    return this.stepSymbol(state, this.symbol(cp));
  }

  /** The state after one more code point of symbol `sym`. */
  stepSymbol(state: number, sym: number): number {
    const row = this.steps[state];
    const known = row[sym];
    if (known >= 0) return known;
    const cp = sym === 0 ? 0 : this.bounds[sym - 1];
    const out = new Set<number>();
    const g = this.grammar;
    for (const s of this.sets[state]) {
      if (s < 0) continue;
      const pos = this.nodePos[s];
      if (classMatches(g.classes[g.arg[pos]], cp)) this.expand(pos + 1, this.nodeNext[s], out, new Set());
    }
    const next = this.internSet(out);
    row[sym] = next;
    return next;
  }

  /** The state after a string (DEAD as soon as a code point fails). */
  stepText(state: number, cps: ArrayLike<number>): number {
    for (let i = 0; i < cps.length && state !== DEAD; i++) state = this.stepSymbol(state, this.symbol(cps[i]));
    return state;
  }

  /** A state of one stack. */
  single(stack: number): number {
    return this.internSet(new Set([stack]));
  }

  /**
   * The stack holding only the top `depth` nodes of `stack`, over BOTTOM (or the whole stack, when it is no
   * deeper): what the token masks are cached by.
   */
  truncate(stack: number, depth: number): number {
    const pos: number[] = [];
    let s = stack;
    while (s >= 0 && pos.length < depth) {
      pos.push(this.nodePos[s]);
      s = this.nodeNext[s];
    }
    let id = s >= 0 ? BOTTOM : s;
    for (let i = pos.length - 1; i >= 0; i--) id = this.node(pos[i], id);
    return id;
  }

  /** Expected characters at a state, for error messages: the classes at its stacks' tops. */
  describe(state: number): string {
    const g = this.grammar;
    const parts = new Set<string>();
    for (const s of this.sets[state]) {
      if (s === ACCEPT) parts.add('the end');
      if (s < 0) continue;
      const c = g.classes[g.arg[this.nodePos[s]]];
      const r: string[] = [];
      for (let i = 0; i < c.ranges.length; i += 2) {
        const [lo, hi] = [String.fromCodePoint(c.ranges[i]), String.fromCodePoint(c.ranges[i + 1])];
        r.push(lo === hi ? lo : `${lo}-${hi}`);
      }
      parts.add(c.negated ? `[^${r.join('')}]` : r.length === 1 && c.ranges[0] === c.ranges[1] ? JSON.stringify(r[0]) : `[${r.join('')}]`);
    }
    return [...parts].join(' or ');
  }

  private node(pos: number, next: number): number {
    const key = pos * 0x4000000 + (next + 2);
    let id = this.nodeIds.get(key);
    if (id === undefined) {
      id = this.nodePos.length;
      this.nodePos.push(pos);
      this.nodeNext.push(next);
      this.nodeIds.set(key, id);
    }
    return id;
  }

  /**
   * Every stack reached from "at `pos`, then resume `next`" without consuming input: references are entered
   * (a reference last in its sequence resumes `next` directly, so repetition does not deepen the stack), ended
   * sequences return to the node below. `seen` cuts cycles of empty matches.
   */
  private expand(pos: number, next: number, out: Set<number>, seen: Set<number>, depth = 0): void {
    const key = pos * 0x4000000 + (next + 2);
    if (seen.has(key)) return;
    seen.add(key);
    // Entering rules without consuming input this deep means a rule reaches itself first thing.
    if (depth > MAX_EXPANSION)
      throw new GrammarError('the grammar is left-recursive, or chains too many optional items', {
        field: 'grammar',
        expected: `no rule that starts with itself, and fewer than ${MAX_EXPANSION} optional items in a row`,
      });
    const g = this.grammar;
    const kind = g.kind[pos];
    if (kind === CHAR) out.add(this.node(pos, next));
    else if (kind === END) {
      if (next < 0) out.add(next);
      else this.expand(this.nodePos[next], this.nodeNext[next], out, seen, depth + 1);
    } else if (kind === REF) {
      const resume = g.kind[pos + 1] === END ? next : this.node(pos + 1, next);
      for (const a of g.alternatives[g.arg[pos]]) this.expand(a, resume, out, seen, depth + 1);
    }
  }

  private internSet(members: Set<number>): number {
    if (members.size === 0 && this.sets.length > 0) return DEAD;
    const sorted = Int32Array.from(members).sort();
    const key = sorted.join(',');
    let id = this.setIds.get(key);
    if (id === undefined) {
      id = this.sets.length;
      this.sets.push(sorted);
      this.steps.push(new Int32Array(this.symbols).fill(-1));
      if (id >= this.bottoms.length) {
        const grown = new Uint8Array(this.bottoms.length * 2);
        grown.set(this.bottoms);
        this.bottoms = grown;
      }
      this.bottoms[id] = sorted.includes(BOTTOM) ? 1 : 0;
      this.setIds.set(key, id);
    }
    return id;
  }
}
