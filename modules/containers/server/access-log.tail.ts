import { open, stat, truncate } from 'node:fs/promises';

export interface AccessEntry {
  /** Request host without port, lowercased. */
  host: string;
  /** Epoch ms when Caddy logged it (the end of the request). */
  at: number;
  status: number;
  durationMs: number;
}

/**
 * Reads new lines of Caddy's JSON access log (written by Caddy for our server) since the last call.
 * Starts at the end of the file: older lines are history, not activity. Follows truncation/rotation.
 */
export class AccessLogTail {
  private offset: number | null = null;
  private rest = '';
  /**
   * Caddy writes the file without rolling (cheaper per request) and in append mode, so once read past
   * `maxBytes` the file is emptied here and Caddy carries on at its new end.
   */
  constructor(readonly file: string, private readonly maxBytes = 16 * 1024 * 1024) {}

  async read(): Promise<AccessEntry[]> {
    let size: number;
    try {
      size = (await stat(this.file)).size;
    } catch {
      this.offset = 0;
      return [];
    }
    if (this.offset === null) {
      this.offset = size;
      return [];
    }
    if (size < this.offset) {
      this.offset = 0; // rotated or truncated
      this.rest = '';
    }
    if (size === this.offset) return [];
    const fh = await open(this.file, 'r');
    try {
      const length = Math.min(size - this.offset, 8 * 1024 * 1024);
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, this.offset);
      this.offset += bytesRead;
      const text = this.rest + buf.subarray(0, bytesRead).toString('utf8');
      const lines = text.split('\n');
      this.rest = lines.pop() ?? '';
      const out: AccessEntry[] = [];
      for (const line of lines) {
        const e = parseAccessLine(line);
        if (e) out.push(e);
      }
      if (this.offset >= this.maxBytes && !this.rest) {
        await truncate(this.file, 0);
        this.offset = 0;
      }
      return out;
    } finally {
      await fh.close();
    }
  }
}

export function parseAccessLine(line: string): AccessEntry | null {
  if (!line.trim()) return null;
  try {
    const j = JSON.parse(line) as { ts?: number; status?: number; duration?: number; request?: { host?: string } };
    const host = (j.request?.host ?? '').toLowerCase().replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    if (!host) return null;
    return { host, at: j.ts ? Math.round(j.ts * 1000) : Date.now(), status: j.status ?? 0, durationMs: (j.duration ?? 0) * 1000 };
  } catch {
    return null;
  }
}
