// GBNF, llama.cpp's grammar format, as rules: `name ::= expression`, with "literals" (escapes \n \r \t \\ \"
// \xHH \uHHHH \UHHHHHHHH), [classes] and [^classes] (same escapes, ranges a-z), rule names, ( groups ),
// alternation |, . (any character), postfix * + ? {n} {n,} {n,m}, and # comments. A rule may span lines: a
// new one starts where a name is followed by ::=. Matching starts at `root`.

import { GrammarError } from '../errors';
import { alt, cls, type Expr, lit, ref, rep, type RuleSet, seq } from './grammar';

type Token = { t: 'name' | 'def' | 'lit' | 'class' | 'punct' | 'quant'; v: string; cls?: { ranges: number[]; negated: boolean }; at: number };

export function parseGbnf(source: string, field = 'grammar'): RuleSet {
  const tokens = lex(source, field);
  const rules: RuleSet = new Map();
  let i = 0;
  const fail = (why: string): never => {
    const at = tokens[i]?.at ?? source.length;
    const line = source.slice(0, at).split('\n').length;
    throw new GrammarError(`${why} (line ${line})`, { field });
  };
  const startsRule = (k: number) => tokens[k]?.t === 'name' && tokens[k + 1]?.t === 'def';
  const alternation = (): Expr => {
    const items = [sequence()];
    while (tokens[i]?.t === 'punct' && tokens[i].v === '|') {
      i++;
      items.push(sequence());
    }
    return items.length === 1 ? items[0] : alt(...items);
  };
  const sequence = (): Expr => {
    const items: Expr[] = [];
    for (;;) {
      const tk = tokens[i];
      if (!tk || startsRule(i) || (tk.t === 'punct' && (tk.v === '|' || tk.v === ')'))) break;
      let e: Expr;
      i++;
      if (tk.t === 'lit') e = lit(tk.v);
      else if (tk.t === 'class') e = cls(tk.cls!.ranges, tk.cls!.negated);
      else if (tk.t === 'name') e = ref(tk.v);
      else if (tk.t === 'punct' && tk.v === '.') e = cls([10, 10], true);
      else if (tk.t === 'punct' && tk.v === '(') {
        e = alternation();
        if (tokens[i]?.v !== ')') fail('an unclosed (');
        i++;
      } else return fail(`unexpected ${tk.v}`);
      while (tokens[i]?.t === 'quant') {
        const q = tokens[i++].v;
        if (q === '*') e = rep(e, 0);
        else if (q === '+') e = rep(e, 1);
        else if (q === '?') e = rep(e, 0, 1);
        else {
          const m = /^\{(\d+)(,(\d*))?\}$/.exec(q)!;
          const min = Number(m[1]);
          const max = m[2] === undefined ? min : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
          if (max < min) fail(`a quantifier ${q} with max < min`);
          e = rep(e, min, max);
        }
      }
      items.push(e);
    }
    return items.length === 1 ? items[0] : seq(...items);
  };
  while (i < tokens.length) {
    if (!startsRule(i)) fail('expected a rule: name ::= ...');
    const name = tokens[i].v;
    i += 2;
    if (rules.has(name)) fail(`rule ${name} is defined twice`);
    rules.set(name, alternation());
    if (i < tokens.length && !startsRule(i)) fail(`unexpected ${tokens[i].v}`);
  }
  if (!rules.has('root')) throw new GrammarError('no root rule', { field, expected: 'root ::= ...' });
  return rules;
}

function lex(s: string, field: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new GrammarError(`${why} (line ${s.slice(0, i).split('\n').length})`, { field });
  };
  const readEscape = (): number => {
    const c = s[i++];
    const simple: Record<string, number> = { n: 10, r: 13, t: 9, '\\': 92, '"': 34, '[': 91, ']': 93, '-': 45, '^': 94 };
    if (c in simple) return simple[c];
    const n = c === 'x' ? 2 : c === 'u' ? 4 : c === 'U' ? 8 : 0;
    if (!n) return fail(`unknown escape \\${c}`);
    const hex = s.slice(i, i + n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) fail(`bad escape \\${c}${hex}`);
    i += n;
    return Number.parseInt(hex, 16);
  };
  const char = (): number => {
    if (s[i] === '\\') {
      i++;
      return readEscape();
    }
    const cp = s.codePointAt(i)!;
    i += cp > 0xffff ? 2 : 1;
    return cp;
  };
  while (i < s.length) {
    const c = s[i];
    const at = i;
    if (/\s/.test(c)) i++;
    else if (c === '#') while (i < s.length && s[i] !== '\n') i++;
    else if (s.startsWith('::=', i)) {
      out.push({ t: 'def', v: '::=', at });
      i += 3;
    } else if (/[a-zA-Z0-9_-]/.test(c)) {
      const m = /^[a-zA-Z0-9_-]+/.exec(s.slice(i))!;
      out.push({ t: 'name', v: m[0], at });
      i += m[0].length;
    } else if (c === '"') {
      i++;
      let text = '';
      while (i < s.length && s[i] !== '"') text += String.fromCodePoint(char());
      if (s[i] !== '"') fail('an unclosed string');
      i++;
      out.push({ t: 'lit', v: text, at });
    } else if (c === '[') {
      i++;
      const negated = s[i] === '^' ? (i++, true) : false;
      const ranges: number[] = [];
      while (i < s.length && s[i] !== ']') {
        const lo = char();
        if (s[i] === '-' && s[i + 1] !== ']') {
          i++;
          const hi = char();
          if (hi < lo) fail('a range out of order');
          ranges.push(lo, hi);
        } else ranges.push(lo, lo);
      }
      if (s[i] !== ']') fail('an unclosed [');
      i++;
      out.push({ t: 'class', v: s.slice(at, i), cls: { ranges, negated }, at });
    } else if ('()|.'.includes(c)) {
      out.push({ t: 'punct', v: c, at });
      i++;
    } else if ('*+?'.includes(c)) {
      out.push({ t: 'quant', v: c, at });
      i++;
    } else if (c === '{') {
      const m = /^\{\s*(\d+)\s*(,\s*(\d*)\s*)?\}/.exec(s.slice(i));
      if (!m) fail('a bad {n,m} quantifier');
      out.push({ t: 'quant', v: `{${m![1]}${m![2] === undefined ? '' : `,${m![3]}`}}`, at });
      i += m![0].length;
    } else fail(`unexpected character ${JSON.stringify(c)}`);
  }
  return out;
}
