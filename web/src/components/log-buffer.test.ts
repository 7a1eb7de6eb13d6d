import { describe, expect, it } from 'vitest';
import { LogBuffer } from './log-buffer';

function manualFrames() {
  const queue: (() => void)[] = [];
  return { schedule: (fn: () => void) => queue.push(fn), run: () => queue.splice(0).forEach((f) => f()), get pending() { return queue.length; } };
}

describe('LogBuffer', () => {
  it('applies every line pushed between two frames in one batch, notifying once', () => {
    const frames = manualFrames();
    const buf = new LogBuffer(1000, frames.schedule);
    let notified = 0;
    buf.subscribe(() => notified++);
    for (let i = 1; i <= 500; i++) buf.push({ seq: i, line: `line ${i}` });
    expect(frames.pending).toBe(1);
    expect(buf.length).toBe(0);
    frames.run();
    expect(notified).toBe(1);
    expect(buf.length).toBe(500);
    expect(buf.at(499)?.line).toBe('line 500');
  });

  it('keeps only the newest `max` lines and counts the dropped ones', () => {
    const frames = manualFrames();
    const buf = new LogBuffer(100, frames.schedule);
    for (let i = 1; i <= 250; i++) buf.push({ seq: i, line: `l${i}` });
    frames.run();
    expect(buf.length).toBe(100);
    expect(buf.dropped).toBe(150);
    expect(buf.at(0)?.line).toBe('l151');
    expect(buf.lastSeq()).toBe(250);
  });

  it('formats a download with timestamps and non-stdout streams marked', () => {
    const frames = manualFrames();
    const buf = new LogBuffer(10, frames.schedule);
    buf.push({ seq: 1, at: Date.UTC(2026, 0, 2, 3, 4, 5), stream: 'stdout', line: 'ok' }, { seq: 2, at: Date.UTC(2026, 0, 2, 3, 4, 6), stream: 'stderr', line: 'bad' });
    frames.run();
    expect(buf.toText()).toBe('2026-01-02T03:04:05.000Z ok\n2026-01-02T03:04:06.000Z [stderr] bad\n');
  });
});
