/**
 * @module config/tracked-params
 * A provider's params that remember which ones the provider looked at while it was built, so deployment can say
 * which params of a topology nothing reads ("no setting silently ignored"): a Knox param postern's provider does
 * not implement, or a misspelt one. A provider that walks all its params (by prefix, say) has read them all.
 * Names compare case-insensitively, as Knox's providers read them.
 */
export class TrackedParams extends Map<string, string> {
  readonly #read = new Set<string>();
  #all = false;

  /** Marks one name as read. */
  mark(name: string): void {
    this.#read.add(name.toLowerCase());
  }

  /** Marks every name as read (a walk over all params). */
  markAll(): void {
    this.#all = true;
  }

  override get(name: string): string | undefined {
    this.mark(name);
    return super.get(name);
  }

  override has(name: string): boolean {
    this.mark(name);
    return super.has(name);
  }

  override entries(): MapIterator<[string, string]> {
    this.#all = true;
    return super.entries();
  }

  override keys(): MapIterator<string> {
    this.#all = true;
    return super.keys();
  }

  override values(): MapIterator<string> {
    this.#all = true;
    return super.values();
  }

  override forEach(
    fn: (value: string, key: string, map: Map<string, string>) => void,
    thisArg?: unknown,
  ): void {
    this.#all = true;
    super.forEach(fn, thisArg);
  }

  override [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  /** The entries, without counting as a read (a reader that indexes them and then marks what it looks up). */
  untracked(): MapIterator<[string, string]> {
    return super.entries();
  }

  /** Names (as written) nothing has read. */
  unread(): string[] {
    if (this.#all) return [];
    return [...super.keys()].filter((name) => !this.#read.has(name.toLowerCase()));
  }
}
