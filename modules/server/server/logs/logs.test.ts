import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestApp, type SignedIn, type TestApp } from '../../../../server/src/testing/harness.js';
import { readLiveLog } from '../../../../server/src/testing/sse-client.js';
import { serverModule } from '../index.js';
import { FileFollower, tailFile } from './file-follower.js';
import { LiveLogChannel, type LiveLogEvent } from '../../../../server/src/testing/index.js';

/** A live-log WebSocket message. */
type LogMessage = { type: 'log'; seq: number; line: string; cursor: string; level?: string | null } | { type: 'state'; state: string; message?: string; count?: number } | { type: 'end'; reason: string; message?: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'slipway-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('following a real file', () => {
  it('tails the last N lines of a large file', async () => {
    const f = path.join(dir, 'big.log');
    writeFileSync(f, Array.from({ length: 50_000 }, (_, i) => `line ${i}`).join('\n') + '\n');
    expect(await tailFile(f, 3)).toEqual(['line 49997', 'line 49998', 'line 49999']);
    expect(await tailFile(f, 2, (await import('node:fs')).statSync(f).size - 'line 49999\n'.length)).toEqual(['line 49997', 'line 49998']);
  });

  it('survives rotation (rename + new file) and truncation', async () => {
    const f = path.join(dir, 'app.log');
    writeFileSync(f, 'old 1\n');
    const lines: string[] = [];
    const notices: string[] = [];
    const follower = new FileFollower(f, { onLines: (l) => lines.push(...l), onNotice: (m) => notices.push(m) }, 100);
    await follower.start();
    appendFileSync(f, 'a\nb\n');
    await until('a, b', () => lines.includes('b'));

    // logrotate's default: rename, then the writer reopens a new file. A late write to the old one is not lost.
    renameSync(f, `${f}.1`);
    appendFileSync(`${f}.1`, 'late write to the rotated file\n');
    writeFileSync(f, 'first in new file\n');
    await until('the new file', () => lines.includes('first in new file'));
    expect(lines).toContain('late write to the rotated file');
    expect(notices.some((n) => /rotated/.test(n))).toBe(true);

    // copytruncate: the same inode shrinks to 0.
    truncateSync(f, 0);
    await sleep(250);
    appendFileSync(f, 'after truncate\n');
    await until('after truncate', () => lines.includes('after truncate'));
    expect(notices.some((n) => /truncated/.test(n))).toBe(true);
    await follower.stop();
    expect(lines).toEqual(['a', 'b', 'late write to the rotated file', 'first in new file', 'after truncate']);
  });
});

describe('bounded delivery to a slow client', () => {
  it('skips ahead with an explicit marker instead of queueing without bound', async () => {
    const ac = new AbortController();
    const ch = new LiveLogChannel(ac.signal, 100, 50);
    // The client does not pull while 1000 lines arrive.
    for (let i = 0; i < 1000; i++) ch.push({ cursor: String(i), stream: 'stdout', line: `l${i}` });
    expect(ch.queued).toBe(100);
    expect(ch.stats.maxQueued).toBe(100);
    ch.end('finished');
    const sent: LiveLogEvent[] = [];
    for await (const ev of ch) sent.push(ev);
    expect(sent[0]).toMatchObject({ type: 'state', state: 'skipped', data: { count: 900 } });
    const texts = sent.flatMap((m) => (m.type === 'log' ? m.records.map((l) => l.line) : []));
    // the newest 100 lines, in order, in batches of at most 50
    expect(texts).toEqual(Array.from({ length: 100 }, (_, i) => `l${900 + i}`));
    expect(sent.filter((m) => m.type === 'log').every((m) => m.type === 'log' && m.records.length <= 50)).toBe(true);
    expect(sent.at(-1)).toMatchObject({ type: 'end', reason: 'finished' });
  });
});

describe('log routes', () => {
  let t: TestApp;
  let admin: SignedIn;
  let viewer: SignedIn;
  let base: string;
  const appLog = path.join(dir, 'routes-app.log');
  const panelLog = path.join(dir, 'panel.log');

  beforeAll(async () => {
    writeFileSync(appLog, ['GET / 200', 'PHP Warning: something odd', 'ERROR database gone', 'GET /x 404'].join('\n') + '\n');
    writeFileSync(panelLog, `${JSON.stringify({ level: 50, msg: 'panel failed' })}\n${JSON.stringify({ level: 30, msg: 'panel ok' })}\n`);
    t = await createTestApp({
      modules: [serverModule],
      env: { SLIPWAY_SERVER_LOG_SOURCES: JSON.stringify({ app: appLog, syslog: '' }), SLIPWAY_SERVER_PANEL_LOG_FILE: panelLog },
    });
    admin = await t.signIn('admin');
    viewer = await t.signIn('viewer');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('offers sources other modules register (paths from their records, never from a request)', async () => {
    t.services.logSources.add((hostId) => (hostId === 'local' ? [{ id: 'site-example-com', title: 'example.com access', path: appLog }, { id: 'bad', title: 'x', path: '/var/log/../../etc/passwd' }] : []));
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs', headers: admin.headers });
    const ids = list.json().items.map((s: { id: string }) => s.id);
    expect(ids).toContain('site-example-com');
    expect(ids).not.toContain('bad');
    const tail = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs/site-example-com?lines=1', headers: admin.headers });
    expect(tail.json().items).toHaveLength(1);
  });

  it('lists configured sources with availability; viewers may not read logs', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs', headers: admin.headers });
    const items = res.json().items as { id: string; available: boolean; path: string }[];
    expect(items.find((s) => s.id === 'app')).toMatchObject({ available: true, path: appLog });
    expect(items.find((s) => s.id === 'panel')).toMatchObject({ available: true });
    expect(items.map((s) => s.id)).not.toContain('syslog');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/server/logs', headers: viewer.headers })).statusCode).toBe(403);
  });

  it('tails with text and level filters, and downloads', async () => {
    const all = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs/app?lines=10', headers: admin.headers });
    expect(all.json().items.map((l: { text: string }) => l.text)).toEqual(['GET / 200', 'PHP Warning: something odd', 'ERROR database gone', 'GET /x 404']);
    const warn = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs/app?lines=10&level=warn', headers: admin.headers });
    expect(warn.json().items.map((l: { text: string; level: string }) => [l.text, l.level])).toEqual([['PHP Warning: something odd', 'warn'], ['ERROR database gone', 'error']]);
    const q = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs/app?lines=10&q=404', headers: admin.headers });
    expect(q.json().items).toHaveLength(1);
    const panel = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs/panel?level=error', headers: admin.headers });
    expect(panel.json().items.map((l: { text: string }) => JSON.parse(l.text).msg)).toEqual(['panel failed']);
    const dl = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs/app/download?lines=2', headers: admin.headers });
    expect(dl.headers['content-disposition']).toBe('attachment; filename="app.log"');
    expect(dl.body).toBe('ERROR database gone\nGET /x 404\n');
  });

  it('never turns a request into a path: traversal and unknown ids are 404, query paths are ignored', async () => {
    for (const source of ['..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', '..', 'app%00', 'journal-..%2F..%2Fetc%2Fshadow', '-n', 'APP', 'syslog']) {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/server/logs/${source}?lines=5&path=/etc/passwd`, headers: admin.headers });
      expect([400, 404], `${source}: ${res.statusCode}`).toContain(res.statusCode);
      expect(res.body).not.toMatch(/root:x:0:0/);
    }
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs/app?lines=5&path=/etc/passwd', headers: admin.headers });
    expect(res.body).not.toMatch(/root:x:0:0/);
  });

  it('follows over WebSocket: an appended line arrives within a second, rotation is announced', async () => {
    const ws = new WebSocket(`${base}/api/v1/server/logs/app/ws?lines=2`, ['slipway.v1', `bearer.${admin.token}`]);
    const msgs: LogMessage[] = [];
    ws.on('message', (m) => msgs.push(JSON.parse(String(m)) as LogMessage));
    await new Promise<void>((r, j) => {
      ws.once('open', () => r());
      ws.once('error', j);
    });
    const texts = () => msgs.flatMap((m) => (m.type === 'log' ? [m.line] : []));
    await until('initial tail', () => texts().length >= 2);
    expect(texts()).toEqual(['ERROR database gone', 'GET /x 404']);
    const started = Date.now();
    appendFileSync(appLog, 'fresh line 1\n');
    await until('fresh line', () => texts().includes('fresh line 1'), 1000);
    expect(Date.now() - started).toBeLessThan(1000);
    renameSync(appLog, `${appLog}.1`);
    writeFileSync(appLog, 'after rotation\n');
    await until('after rotation', () => texts().includes('after rotation'), 3000);
    expect(msgs.some((m) => m.type === 'state' && m.state === 'notice' && /rotated/.test(m.message ?? ''))).toBe(true);
    ws.close();
  });

  it('answers an unknown source with 404 before opening a stream', async () => {
    const ws = new WebSocket(`${base}/api/v1/server/logs/nope/ws`, ['slipway.v1', `bearer.${admin.token}`]);
    const status = await new Promise<number>((r) => ws.once('unexpected-response', (_req, res) => r(res.statusCode ?? 0)));
    expect(status).toBe(404);
    const sse = await fetch(`${base.replace('ws', 'http')}/api/v1/server/logs/nope/stream`, { headers: admin.headers });
    expect(sse.status).toBe(404);
  });

  it('follows over SSE with a filter', async () => {
    const controller = new AbortController();
    const res = await fetch(`${base.replace('ws', 'http')}/api/v1/server/logs/app/stream?lines=0&q=needle`, { headers: admin.headers, signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    await sleep(200);
    appendFileSync(appLog, 'hay\nneedle here\n');
    const deadline = Date.now() + 3000;
    while (!text.includes('needle here') && Date.now() < deadline) {
      const { value } = await reader.read();
      text += Buffer.from(value!).toString();
    }
    controller.abort();
    expect(text).toMatch(/id: f\d+\.\d+\nevent: log\ndata: .*needle here/);
    expect(text).not.toMatch(/"hay"/);
  });

  it('a reconnect resumes after the last line delivered: never the tail again, and nothing missed', async () => {
    const f = path.join(dir, 'resume.log');
    writeFileSync(f, 'r1\nr2\nr3\n');
    t.services.logSources.add((hostId) => (hostId === 'local' ? [{ id: 'resume-test', title: 'resume', path: f }] : []));
    const url = `${base.replace('ws', 'http')}/api/v1/server/logs/resume-test/stream?lines=2`;
    const first = await readLiveLog(url, { headers: admin.headers, idleMs: 600 });
    expect(first.status).toBe(200);
    expect(first.lines.map((l) => l.line)).toEqual(['r2', 'r3']);
    expect(first.lastId).toMatch(/^f\d+\.9$/); // after "r3\n", byte 9
    expect(first.end).toBeNull(); // a file does not end

    // Nothing new: a reconnect with the last id gets nothing (the bug re-appended the tail here).
    const idle = await readLiveLog(url, { headers: admin.headers, lastEventId: first.lastId, idleMs: 800 });
    expect(idle.lines).toEqual([]);

    // Lines written while disconnected arrive once, then live ones.
    appendFileSync(f, 'r4\nr5\n');
    const second = await readLiveLog(url, {
      headers: admin.headers, lastEventId: first.lastId, idleMs: 1500,
      stopWhen: (r) => {
        if (r.lines.length === 2) appendFileSync(f, 'r6\n');
        return r.lines.length >= 3;
      },
    });
    expect(second.lines.map((l) => l.line)).toEqual(['r4', 'r5', 'r6']);
    // ?since= works like Last-Event-ID (WebSocket and other clients).
    const bySince = await readLiveLog(`${url}&since=${encodeURIComponent(second.lines[0]!.id)}`, { headers: admin.headers, idleMs: 800 });
    expect(bySince.lines.map((l) => l.line)).toEqual(['r5', 'r6']);

    // Rotated while away: the new file is read from its start, and that is said.
    renameSync(f, `${f}.1`);
    writeFileSync(f, 'n1\n');
    const rotated = await readLiveLog(url, { headers: admin.headers, lastEventId: second.lastId, idleMs: 800 });
    expect(rotated.lines.map((l) => l.line)).toEqual(['n1']);
    expect(rotated.states.some((s) => s.state === 'notice' && /rotated/.test(String(s.message)))).toBe(true);
    // A cursor the source does not know (garbage, another source's) shows new lines only.
    const foreign = await readLiveLog(url, { headers: admin.headers, lastEventId: 'j;s=x', idleMs: 600 });
    expect(foreign.lines).toEqual([]);
  });

  it('resumes over WebSocket with ?since=', async () => {
    const f = path.join(dir, 'resume-ws.log');
    writeFileSync(f, 'w1\nw2\n');
    t.services.logSources.add((hostId) => (hostId === 'local' ? [{ id: 'resume-ws', title: 'resume', path: f }] : []));
    const read = async (q: string) => {
      const ws = new WebSocket(`${base}/api/v1/server/logs/resume-ws/ws?${q}`, ['slipway.v1', `bearer.${admin.token}`]);
      const msgs: LogMessage[] = [];
      ws.on('message', (m) => msgs.push(JSON.parse(String(m)) as LogMessage));
      await new Promise<void>((r, j) => {
        ws.once('open', () => r());
        ws.once('error', j);
      });
      await sleep(500);
      ws.close();
      return msgs.filter((m): m is Extract<LogMessage, { type: 'log' }> => m.type === 'log');
    };
    const first = await read('lines=10');
    expect(first.map((m) => m.line)).toEqual(['w1', 'w2']);
    appendFileSync(f, 'w3\n');
    const again = await read(`lines=10&since=${encodeURIComponent(first.at(-1)!.cursor)}`);
    expect(again.map((m) => m.line)).toEqual(['w3']);
  });
});
