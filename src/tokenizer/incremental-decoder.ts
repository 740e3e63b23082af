// Text of a growing token sequence without decoding all of it at every token. A token's text can depend
// on the tokens before it (SentencePiece drops the first token's leading space; byte-fallback tokens only
// form a character together), so each step decodes a short window: the tokens since the last emitted
// text plus the few before them for context, and emits what the new tokens added.

export class IncrementalDecoder {
  private readonly ids: number[] = [];
  /** Start of the context window. */
  private prefix = 0;
  /** Tokens before this one have had their text emitted. */
  private read = 0;
  private emitted = '';

  constructor(private readonly decodeIds: (ids: number[]) => string) {}

  private decode(ids: number[]): string {
    return ids.length ? this.decodeIds(ids) : ''; // tokenizers refuse an empty list
  }

  /** Add one token; returns the text so far, without a trailing incomplete character. */
  push(id: number): string {
    this.ids.push(id);
    const before = this.decode(this.ids.slice(this.prefix, this.read));
    const after = this.decode(this.ids.slice(this.prefix));
    // An incomplete UTF-8 sequence decodes to U+FFFD: wait for the bytes that complete it. A window
    // whose earlier text changed is held too, until a later token settles it (or finish()).
    if (after.length > before.length && after.startsWith(before) && !after.endsWith('\uFFFD')) {
      this.emitted += after.slice(before.length);
      this.prefix = this.read;
      this.read = this.ids.length;
    }
    return this.emitted;
  }

  /**
   * The final text: one decode of every token, which also settles what push() held back (a trailing
   * incomplete character, or a window whose text a new token rewrote).
   */
  finish(): string {
    return this.decode(this.ids);
  }
}
