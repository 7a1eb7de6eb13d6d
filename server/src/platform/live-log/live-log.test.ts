import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalProcessRunner } from '../../infra/process-runner.js';
import { logSourceVisible, type CommandLogSource } from '../extensions/log-sources.js';
import { definePermissions, type Actor } from '../rbac/permissions.js';
import { commandLogSource } from './command-source.js';
import { collectLiveLog, parseLeadingTimestamp, TimestampCursor, type LiveLogEvent, type LiveLogSource } from './live-log.js';

const dir = mkdtempSync(path.join(tmpdir(), 'slipway-live-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function read(source: LiveLogSource, cursor: string | undefined, idleMs = 700): Promise<LiveLogEvent[]> {
  const ac = new AbortController();
  const out: LiveLogEvent[] = [];
  let timer = setTimeout(() => ac.abort(), idleMs);
  for await (const ev of source.open(cursor, ac.signal)) {
    out.push(ev);
    clearTimeout(timer);
    timer = setTimeout(() => ac.abort(), idleMs);
    if (ev.type === 'end') break;
  }
  clearTimeout(timer);
  ac.abort();
  return out;
}
const lines = (evs: LiveLogEvent[]) => evs.flatMap((e) => (e.type === 'log' ? e.records : []));

describe('timestamp cursors', () => {
  it('parses docker/dokku timestamps to the nanosecond, trimmed fractions included', () => {
    expect(parseLeadingTimestamp('2026-01-02T03:04:05.123456789Z hello')).toMatchObject({ ns: 1767323045123456789n, ms: 1767323045123, rest: 'hello' });
    expect(parseLeadingTimestamp('2026-01-02T03:04:05.1Z x')!.ns).toBe(1767323045100000000n);
    expect(parseLeadingTimestamp('2026-01-02T03:04:05Z x')!.ns).toBe(1767323045000000000n);
    expect(parseLeadingTimestamp('no stamp')).toBeNull();
  });

  it('counts lines that share an instant, and resuming drops exactly those delivered', () => {
    const a = new TimestampCursor();
    // A fresh connection cannot know how many lines before its tail share its first instant: `*` = all of them.
    expect([a.next(10n), a.next(10n), a.next(11n), a.next(11n), a.next(12n)]).toEqual(['t10.*', 't10.*', 't11.1', 't11.2', 't12.1']);
    const all = new TimestampCursor('t10.*');
    expect([all.next(10n), all.next(10n), all.next(11n)]).toEqual([null, null, 't11.1']);
    // Resume after the second line stamped 10: docker replays everything since 10 (inclusive).
    const b = new TimestampCursor('t10.2');
    expect(b.resuming).toBe(true);
    expect(b.since).toBe('0.000000010');
    expect([b.next(9n), b.next(10n), b.next(10n), b.next(10n), b.next(11n)]).toEqual([null, null, null, 't10.3', 't11.1']);
  });

  it('never goes backwards (docker stamps stdout and stderr separately: a stderr line may be older than the stdout line before it)', () => {
    const c = new TimestampCursor();
    expect([c.next(5n), c.next(7n), c.next(6n), c.next(7n)]).toEqual(['t5.*', 't7.1', 't7.1', 't7.2']);
  });

  it('an unknown cursor is not a resume', () => {
    expect(new TimestampCursor('42').resuming).toBe(false);
    expect(new TimestampCursor('t1.x').resuming).toBe(false);
  });
});

describe('command stream sources', () => {
  const runner = new LocalProcessRunner();
  const history = path.join(dir, 'history.log');
  // A log command like `docker logs --tail N -f`: prints its last N lines, then (with follow) waits.
  const source = (follow = false) => commandLogSource({
    lines: 3,
    timestamps: true,
    run: ({ lines, signal }) => runner.stream('sh', ['-c', follow ? 'tail -n "$1" -f "$2"' : 'tail -n "$1" "$2"', 'sh', String(lines), history], { signal }),
  });

  it('first connection: the last lines, then `end` finished when the command ends', async () => {
    writeFileSync(history, ['2026-01-01T00:00:01.000000001Z one', '2026-01-01T00:00:01.000000001Z one again', '2026-01-01T00:00:02Z two', '2026-01-01T00:00:03Z three'].join('\n') + '\n');
    const evs = await read(source(), undefined);
    expect(lines(evs).map((r) => [r.line.replace(/^\S+ /, ''), r.cursor])).toEqual([['one again', 't1767225601000000001.*'], ['two', 't1767225602000000000.1'], ['three', 't1767225603000000000.1']]);
    expect(evs.at(-1)).toMatchObject({ type: 'end', reason: 'finished' });
  });

  it('a reconnect resumes after the cursor: nothing twice, nothing older, new lines once', async () => {
    const first = lines(await read(source(), undefined));
    const last = first.at(-1)!.cursor;
    const again = await read(source(), last);
    expect(lines(again)).toEqual([]);
    appendFileSync(history, '2026-01-01T00:00:03Z three (same instant)\n2026-01-01T00:00:04Z four\n');
    const more = lines(await read(source(), last));
    expect(more.map((r) => r.line)).toEqual(['2026-01-01T00:00:03Z three (same instant)', '2026-01-01T00:00:04Z four']);
    // Resume in the middle of lines sharing an instant.
    const mid = lines(await read(source(), 't1767225601000000001.1'));
    expect(mid.map((r) => r.line.replace(/^\S+ /, ''))).toEqual(['one again', 'two', 'three', 'three (same instant)', 'four']);
  });

  it('follows live and stops the command when the client leaves', async () => {
    writeFileSync(history, '2026-01-01T00:00:05Z five\n');
    const ac = new AbortController();
    const got: string[] = [];
    const it = source(true).open(undefined, ac.signal)[Symbol.asyncIterator]();
    const first = await it.next();
    if (!first.done && first.value.type === 'log') got.push(...first.value.records.map((r) => r.line));
    appendFileSync(history, '2026-01-01T00:00:06Z six\n');
    const second = await it.next();
    if (!second.done && second.value.type === 'log') got.push(...second.value.records.map((r) => r.line));
    expect(got).toEqual(['2026-01-01T00:00:05Z five', '2026-01-01T00:00:06Z six']);
    ac.abort();
    expect((await it.next()).done).toBe(true);
  });

  it('a command that fails ends with `error` and its message; one without timestamps never replays on reconnect', async () => {
    const failing = commandLogSource({ lines: 5, run: ({ signal }) => runner.stream('sh', ['-c', 'echo out; echo "no such app" >&2; exit 2'], { signal }) });
    const evs = await read(failing, undefined);
    expect(lines(evs).map((r) => r.line)).toEqual(['out', 'no such app']);
    expect(evs.at(-1)).toMatchObject({ type: 'end', reason: 'error', message: expect.stringMatching(/status 2: no such app/) });
    const replay = await read(failing, 'n2');
    expect(replay[0]).toMatchObject({ type: 'state', state: 'resumed' });
    // Asked for 0 past lines: the command's own output still arrives, but the tail is not asked for again.
  });

  it('collectLiveLog reads a one-shot tail', async () => {
    writeFileSync(history, '2026-01-01T00:00:05Z five\n2026-01-01T00:00:06Z six\n');
    const got = await collectLiveLog(source(true), { limit: 10, idleMs: 400 });
    expect(got.records.map((r) => r.line.replace(/^\S+ /, ''))).toEqual(['five', 'six']);
  });
});

describe('command log sources in the viewer', () => {
  const P = definePermissions('livelogtest', { read: { description: 'read', roles: ['operator', 'support', 'user'], ownedOnly: true } });
  const src = (ownerId: string | null): CommandLogSource => ({ id: 'app:local:x', title: 'x', kind: 'command', permission: P.read, ownerId, open: async function* () {} });
  const actor = (role: string, userId = 'u1'): Actor => ({ kind: 'user', userId, username: userId, role } as Actor);

  it('staff see every app; a user only their own; a role without the permission none', () => {
    expect(logSourceVisible(actor('operator'), src('someone'))).toBe(true);
    expect(logSourceVisible(actor('admin'), src(null))).toBe(true);
    expect(logSourceVisible(actor('user', 'u1'), src('u1'))).toBe(true);
    expect(logSourceVisible(actor('user', 'u1'), src('u2'))).toBe(false);
    expect(logSourceVisible(actor('user', 'u1'), src(null))).toBe(false);
    expect(logSourceVisible(actor('viewer'), src('u1'))).toBe(false);
  });
});
