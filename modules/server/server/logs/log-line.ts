/** One log line as clients see it. */
export interface LogLine {
  text: string;
  level: LogLevel | null;
  /** Epoch ms when the source says (journald); absent for plain files. */
  at?: number;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const ANY_LEVEL_WORD = /\b(?:emerg|emergency|alert|crit|critical|fatal|error|err|panic|warn|warning|debug|trace|info|notice)\b/i;
const ERROR_WORDS = /\b(?:emerg|emergency|alert|crit|critical|fatal|error|err|panic)\b/i;
const WARN_WORDS = /\b(?:warn|warning)\b/i;
const DEBUG_WORDS = /\b(?:debug|trace)\b/i;
const PINO_LEVEL = /"level":\s*(\d{2})/;

/** Best-effort level of a plain text line (nginx, syslog, PHP-FPM, MariaDB, pino JSON). */
export function detectLevel(text: string): LogLevel | null {
  if (text.charCodeAt(0) === 123 /* { */) {
    const pino = PINO_LEVEL.exec(text);
    if (pino) {
      const n = Number(pino[1]);
      return n >= 50 ? 'error' : n >= 40 ? 'warn' : n >= 30 ? 'info' : 'debug';
    }
  }
  // One scan decides the common case (an access-log line names no level); the rest rank the words.
  if (!ANY_LEVEL_WORD.test(text)) return null;
  if (ERROR_WORDS.test(text)) return 'error';
  if (WARN_WORDS.test(text)) return 'warn';
  if (DEBUG_WORDS.test(text)) return 'debug';
  return 'info';
}

/** journald PRIORITY (syslog severities 0..7). */
export function levelFromPriority(p: number): LogLevel {
  return p <= 3 ? 'error' : p === 4 ? 'warn' : p <= 6 ? 'info' : 'debug';
}

export interface LineFilter {
  /** Case-insensitive substring. */
  q?: string;
  /** Minimum level: `warn` keeps warn and error lines. */
  level?: LogLevel;
}

export function lineMatcher(f: LineFilter): (l: LogLine) => boolean {
  const q = f.q?.toLowerCase();
  const min = f.level ? LOG_LEVELS.indexOf(f.level) : -1;
  if (!q && min < 0) return () => true;
  return (l) => (!q || l.text.toLowerCase().includes(q)) && (min < 0 || (l.level !== null && LOG_LEVELS.indexOf(l.level) >= min));
}

export const textLine = (text: string): LogLine => ({ text, level: detectLevel(text) });

/** One `journalctl -o json` record as a line. MESSAGE is a byte array when it is not valid UTF-8. */
export function journalLine(json: string): LogLine | null {
  return journalEntry(json)?.line ?? null;
}

/** A journal record's line and its `__CURSOR` (where a follow resumes after it). */
export function journalEntry(json: string): { line: LogLine; cursor?: string } | null {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trim() ? { line: textLine(json) } : null;
  }
  const line = recordLine(rec);
  return typeof rec.__CURSOR === 'string' ? { line, cursor: rec.__CURSOR } : { line };
}

function recordLine(rec: Record<string, unknown>): LogLine {
  const m = rec.MESSAGE;
  const text = typeof m === 'string' ? m : Array.isArray(m) ? Buffer.from(m as number[]).toString('utf8') : '';
  const prio = Number(rec.PRIORITY);
  const usec = Number(rec.__REALTIME_TIMESTAMP);
  return {
    text,
    level: Number.isFinite(prio) ? levelFromPriority(prio) : detectLevel(text),
    ...(Number.isFinite(usec) ? { at: Math.floor(usec / 1000) } : {}),
  };
}
