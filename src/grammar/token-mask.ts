// Which tokens keep the output a valid prefix of the grammar: a bitmask over the vocabulary per step.
//
// The vocabulary's token texts form a trie; a mask is a walk of the trie that steps the matcher by each edge's
// code point and prunes where the state dies. A full walk visits every token that could continue (inside a
// free string that is most of a 152K vocabulary), too slow for every step, so walks are cached by the top
// FRAME_DEPTH nodes of a stack (a frame, over BOTTOM): a token the frame alone accepts or refuses is decided
// once per frame; only tokens whose walk reached BOTTOM (they leave the frame's rules: a string's closing
// quote and what follows it) are checked against the whole stack at each step. (XGrammar's adaptive token
// mask cache rests on the same split between context-independent and context-dependent tokens.)

import { GrammarError } from '../errors';
import { ACCEPT, DEAD, type GrammarMatcher } from './matcher';

/** Nodes of a stack a cached walk covers. */
export const FRAME_DEPTH = 8;
/** Masks kept per grammar, by matcher state. */
const MASK_MEMO = 4096;

/** The vocabulary as text: each token's code points as they read after other text (null: never allowed). */
export class Vocabulary {
  /** Tokens in code-point order of their text, and the trie over them (node 0 is the root). */
  private readonly order: Int32Array;
  readonly nodeCp: Int32Array;
  readonly firstChild: Int32Array;
  readonly nextSibling: Int32Array;
  /** Tokens ending at a node: order[tokLo..tokHi); tokens below a node (itself included): order[subLo..subHi). */
  readonly tokLo: Int32Array;
  readonly tokHi: Int32Array;
  readonly subLo: Int32Array;
  readonly subHi: Int32Array;

  /** Each token's code points (null where it never takes part), for every id below size. */
  readonly pieces: readonly (Int32Array | null)[];

  /** `size`: the model's vocabulary (logit rows), which may pass the tokenizer's. */
  constructor(
    pieces: readonly (Int32Array | null)[],
    readonly size: number,
  ) {
    this.pieces = Array.from({ length: size }, (_, i) => pieces[i] ?? null);
    const ids = this.pieces.map((p, i) => (p && p.length > 0 ? i : -1)).filter((i) => i >= 0);
    ids.sort((a, b) => compareCps(pieces[a]!, pieces[b]!));
    this.order = Int32Array.from(ids);
    let chars = 0;
    for (const i of ids) chars += pieces[i]!.length;
    const cap = chars + 1;
    const cp = new Int32Array(cap);
    const first = new Int32Array(cap).fill(-1);
    const next = new Int32Array(cap).fill(-1);
    const last = new Int32Array(cap).fill(-1);
    const tokLo = new Int32Array(cap);
    const tokHi = new Int32Array(cap);
    const subLo = new Int32Array(cap);
    const subHi = new Int32Array(cap);
    let nodes = 1;
    const path: number[] = [0]; // path[d]: the node at depth d of the previous token
    subHi[0] = ids.length;
    let prev: Int32Array = new Int32Array(0);
    for (let k = 0; k < ids.length; k++) {
      const p = pieces[ids[k]]!;
      let common = 0;
      while (common < p.length && common < prev.length && p[common] === prev[common]) common++;
      while (path.length > common + 1) subHi[path.pop()!] = k;
      for (let d = common; d < p.length; d++) {
        const parent = path[path.length - 1];
        const n = nodes++;
        cp[n] = p[d];
        if (last[parent] < 0) first[parent] = n;
        else next[last[parent]] = n;
        last[parent] = n;
        subLo[n] = k;
        tokLo[n] = tokHi[n] = k;
        path.push(n);
      }
      tokHi[path[path.length - 1]] = k + 1; // also when the text equals the previous token's
      prev = p;
    }
    while (path.length > 1) subHi[path.pop()!] = ids.length;
    this.nodeCp = cp.subarray(0, nodes);
    this.firstChild = first.subarray(0, nodes);
    this.nextSibling = next.subarray(0, nodes);
    this.tokLo = tokLo.subarray(0, nodes);
    this.tokHi = tokHi.subarray(0, nodes);
    this.subLo = subLo.subarray(0, nodes);
    this.subHi = subHi.subarray(0, nodes);
  }

  /** The token at a position of the code-point order. */
  tokenAt(k: number): number {
    return this.order[k];
  }

  get words(): number {
    return Math.ceil(this.size / 32);
  }
}

function compareCps(a: Int32Array, b: Int32Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

interface FrameEntry {
  /** Tokens the frame accepts whatever lies below it. */
  accepted: Uint32Array;
  /** Tokens whose walk reached BOTTOM without the frame accepting them: checked against the whole stack. */
  dependent: Int32Array;
}

/** A grammar against one vocabulary: frame walks and masks, cached for every generation that uses it. */
export class GrammarIndex {
  private readonly frames = new Map<number, FrameEntry>();
  private readonly frameOf = new Map<number, number>();
  private readonly masks = new Map<number, Uint32Array>();
  /** Walks run so far (the bench reports them). */
  frameWalks = 0;
  /** Each trie node's code point as the matcher's symbol. */
  private readonly nodeSym: Int32Array;
  /** The trie root's children by symbol. */
  private readonly rootGroups = new Map<number, number[]>();
  /** The walks' DFS stack, reused. */
  private readonly dfs: { nodes: Int32Array; states: Int32Array; below: Uint8Array };

  constructor(
    readonly matcher: GrammarMatcher,
    readonly vocab: Vocabulary,
    /** Tokens allowed where the grammar may end (the model's end-of-sequence ids). */
    readonly endIds: readonly number[],
  ) {
    this.nodeSym = vocab.nodeCp.map((cp) => matcher.symbol(cp));
    const n = vocab.nodeCp.length;
    this.dfs = { nodes: new Int32Array(n), states: new Int32Array(n), below: new Uint8Array(n) };
    for (let c = vocab.firstChild[0]; c >= 0; c = vocab.nextSibling[c]) {
      const group = this.rootGroups.get(this.nodeSym[c]);
      if (group) group.push(c);
      else this.rootGroups.set(this.nodeSym[c], [c]);
    }
  }

  /** The allowed tokens at a matcher state; a GrammarError when none is (the vocabulary cannot continue). */
  mask(state: number): Uint32Array {
    const known = this.masks.get(state);
    if (known) {
      this.masks.delete(state);
      this.masks.set(state, known); // most recently used last
      return known;
    }
    const m = this.matcher;
    const mask = new Uint32Array(this.vocab.words);
    for (const s of m.stacks(state)) {
      if (s === ACCEPT) for (const id of this.endIds) if (id < this.vocab.size) mask[id >>> 5] |= 1 << (id & 31);
      if (s < 0) continue;
      const entry = this.frame(s);
      for (let w = 0; w < mask.length; w++) mask[w] |= entry.accepted[w];
      const alone = m.single(s);
      for (const t of entry.dependent) {
        if (mask[t >>> 5] & (1 << (t & 31))) continue;
        if (m.stepText(alone, this.vocab.pieces[t]!) !== DEAD) mask[t >>> 5] |= 1 << (t & 31);
      }
    }
    if (!mask.some((w) => w !== 0)) {
      throw new GrammarError('no token of the vocabulary continues the constrained output', {
        field: 'response_format',
        expected: m.describe(state),
      });
    }
    this.masks.set(state, mask);
    if (this.masks.size > MASK_MEMO) this.masks.delete(this.masks.keys().next().value!);
    return mask;
  }

  private frame(stack: number): FrameEntry {
    let f = this.frameOf.get(stack);
    if (f === undefined) this.frameOf.set(stack, (f = this.matcher.truncate(stack, FRAME_DEPTH)));
    let entry = this.frames.get(f);
    if (!entry) this.frames.set(f, (entry = this.walk(f)));
    return entry;
  }

  /** Walk the trie from a frame: accepted tokens, and the tokens that depend on what lies below it. */
  private walk(frame: number): FrameEntry {
    this.frameWalks++;
    const v = this.vocab;
    const m = this.matcher;
    const sym = this.nodeSym;
    const accepted = new Uint32Array(v.words);
    const dependent: number[] = [];
    // Explicit DFS over (node, the state before its code point, whether a path to it reached BOTTOM); the
    // stack never holds more entries than the trie has nodes.
    const nodes = this.dfs.nodes;
    const states = this.dfs.states;
    const below = this.dfs.below;
    let top = 0;
    const start = m.single(frame);
    // The root's children, a group per symbol: one step decides for all of a group (thousands of CJK first characters).
    for (const [s, children] of this.rootGroups) {
      const after = m.stepSymbol(start, s);
      if (after === DEAD && !m.hasBottom(start)) continue;
      for (const c of children) {
        nodes[top] = c;
        states[top] = start;
        below[top++] = 0;
      }
    }
    while (top > 0) {
      const n = nodes[--top];
      const before = states[top];
      const dependsHere = below[top] === 1 || m.hasBottom(before);
      const after = m.stepSymbol(before, sym[n]);
      if (after !== DEAD) {
        for (let k = v.tokLo[n]; k < v.tokHi[n]; k++) {
          const t = v.tokenAt(k);
          accepted[t >>> 5] |= 1 << (t & 31);
        }
        for (let c = v.firstChild[n]; c >= 0; c = v.nextSibling[c]) {
          nodes[top] = c;
          states[top] = after;
          below[top++] = dependsHere ? 1 : 0;
        }
      } else if (dependsHere) {
        for (let k = v.subLo[n]; k < v.subHi[n]; k++) dependent.push(v.tokenAt(k));
      }
    }
    return { accepted, dependent: Int32Array.from(dependent) };
  }
}

/** The grammar's progress through one generation. */
export class ConstraintState {
  private state: number;
  /** An end-of-sequence token was accepted, or the grammar cannot continue. */
  done = false;

  constructor(readonly index: GrammarIndex) {
    this.state = index.matcher.initial;
  }

  /** The tokens allowed next. */
  mask(): Uint32Array {
    return this.index.mask(this.state);
  }

  /** Whether `id` is allowed next. */
  allows(id: number): boolean {
    const mask = this.mask();
    return (mask[id >>> 5] & (1 << (id & 31))) !== 0;
  }

  /** Advance by a chosen token (it must be allowed). */
  accept(id: number): void {
    const { matcher, vocab, endIds } = this.index;
    if (endIds.includes(id) && matcher.accepts(this.state)) {
      this.done = true;
      return;
    }
    const piece = vocab.pieces[id] ?? null;
    const next = piece ? matcher.stepText(this.state, piece) : DEAD;
    if (next === DEAD) throw new GrammarError('a token outside the constraint was chosen', { field: 'response_format', got: `token ${id}` });
    this.state = next;
    if (!matcher.canContinue(next)) this.done = true;
  }

  /** The matcher state the output so far leads to. */
  get position(): number {
    return this.state;
  }

  /** Whether the output so far is complete under the grammar. */
  get complete(): boolean {
    return this.index.matcher.accepts(this.state);
  }
}
