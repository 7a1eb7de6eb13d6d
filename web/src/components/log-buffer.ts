export interface LogLine {
  seq: number;
  at?: number;
  stream?: string;
  line: string;
}

type Schedule = (fn: () => void) => void;

const frame: Schedule = (fn) => {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => fn());
  else setTimeout(fn, 16);
};

/**
 * A bounded log store for live streams. Lines pushed between two frames are applied together in one
 * requestAnimationFrame, so a fast stream re-renders the viewer at most once per frame; past `max`
 * lines the oldest are dropped (counted in `dropped`).
 */
export class LogBuffer {
  private lines: LogLine[] = [];
  private pending: LogLine[] = [];
  private scheduled = false;
  private readonly listeners = new Set<() => void>();
  /** Bumped once per applied batch; use it as the snapshot for useSyncExternalStore. */
  version = 0;
  dropped = 0;

  constructor(readonly max = 100_000, private readonly schedule: Schedule = frame) {}

  push(...lines: LogLine[]): void {
    for (const l of lines) this.pending.push(l);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
  }

  /** Applies pending lines now (normally called by the frame scheduler). */
  flush(): void {
    this.scheduled = false;
    if (!this.pending.length) return;
    const next = this.lines.concat(this.pending);
    this.pending = [];
    const over = next.length - this.max;
    if (over > 0) {
      this.dropped += over;
      this.lines = next.slice(over);
    } else this.lines = next;
    this.version++;
    for (const l of this.listeners) l();
  }

  clear(): void {
    this.lines = [];
    this.pending = [];
    this.dropped = 0;
    this.version++;
    for (const l of this.listeners) l();
  }

  get length(): number {
    return this.lines.length;
  }

  at(i: number): LogLine | undefined {
    return this.lines[i];
  }

  all(): readonly LogLine[] {
    return this.lines;
  }

  lastSeq(): number | undefined {
    return this.pending.at(-1)?.seq ?? this.lines.at(-1)?.seq;
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  getVersion = (): number => this.version;

  toText(): string {
    return this.lines.map(formatLogLine).join('\n') + (this.lines.length ? '\n' : '');
  }
}

export function formatLogLine(l: LogLine): string {
  const at = l.at ? new Date(l.at).toISOString() + ' ' : '';
  const stream = l.stream && l.stream !== 'stdout' && l.stream !== 'info' ? `[${l.stream}] ` : '';
  return `${at}${stream}${l.line}`;
}
