// Harness for bench/web.ts: the console's LogViewer fed 100,000 lines while frames are counted.
import '@mantine/core/styles.css';
import { MantineProvider } from '@mantine/core';
import { createRoot } from 'react-dom/client';
import { LogBuffer } from '../../web/src/components/log-buffer';
import { LogViewer } from '../../web/src/components/LogViewer';

const buffer = new LogBuffer(100_000);
createRoot(document.getElementById('root')!).render(
  <MantineProvider>
    <LogViewer buffer={buffer} height={600} />
  </MantineProvider>,
);

interface Result { lines: number; streamMs: number; frames: number; droppedFrames: number; longestFrameMs: number; domRows: number }

/** Streams `total` lines in chunks of `chunk` every `intervalMs`, counting frames with rAF. */
async function run(total: number, chunk: number, intervalMs: number): Promise<Result> {
  const frameTimes: number[] = [];
  let recording = true;
  const tick = (t: number) => {
    frameTimes.push(t);
    if (recording) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  await new Promise((r) => setTimeout(r, 200));
  const start = performance.now();
  let seq = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const batch = [];
      for (let i = 0; i < chunk && seq < total; i++) {
        seq++;
        batch.push({ seq, at: Date.now(), stream: seq % 50 === 0 ? 'stderr' : 'stdout', line: `[${seq}] step ${seq % 7}: compiling module ${seq % 113} … ok (${(seq % 997) / 10} ms)` });
      }
      buffer.push(...batch);
      if (seq >= total) {
        clearInterval(timer);
        resolve();
      }
    }, intervalMs);
  });
  await new Promise((r) => setTimeout(r, 300));
  const streamMs = performance.now() - start;
  recording = false;
  const inWindow = frameTimes.filter((t) => t >= start);
  const frame = 1000 / 60;
  let dropped = 0;
  let longest = 0;
  for (let i = 1; i < inWindow.length; i++) {
    const d = inWindow[i]! - inWindow[i - 1]!;
    longest = Math.max(longest, d);
    dropped += Math.max(0, Math.round(d / frame) - 1);
  }
  return { lines: buffer.length, streamMs: Math.round(streamMs), frames: inWindow.length, droppedFrames: dropped, longestFrameMs: Math.round(longest), domRows: document.querySelectorAll('[data-log-line]').length };
}

(window as unknown as { runLogBench: typeof run }).runLogBench = run;
