import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { renderWithMantine } from '../testing/render';
import { LogBuffer } from './log-buffer';
import { LogViewer } from './LogViewer';

function filled(n: number) {
  const queue: (() => void)[] = [];
  const buf = new LogBuffer(200_000, (fn) => queue.push(fn));
  for (let i = 1; i <= n; i++) buf.push({ seq: i, stream: i % 1000 === 0 ? 'stderr' : 'stdout', line: i % 1000 === 0 ? `warning ${i}` : `step output ${i}` });
  return { buf, flush: () => act(() => queue.splice(0).forEach((f) => f())) };
}

// jsdom does no layout: give elements the viewport size a browser would (800 x 400).
const sizes = { clientHeight: 400, clientWidth: 800, offsetHeight: 400, offsetWidth: 800 } as const;
const saved = new Map<string, PropertyDescriptor | undefined>();
const scrollTops = new WeakMap<Element, number>();
beforeAll(() => {
  // ...and scrolling that moves (jsdom's scrollTo is a no-op).
  Object.defineProperty(HTMLElement.prototype, 'scrollTop', { configurable: true, get() { return scrollTops.get(this) ?? 0; }, set(v: number) { scrollTops.set(this, v); this.dispatchEvent(new Event('scroll')); } });
  HTMLElement.prototype.scrollTo = function scrollTo(this: HTMLElement, opts?: ScrollToOptions | number) {
    this.scrollTop = typeof opts === 'number' ? opts : (opts?.top ?? 0);
  } as typeof HTMLElement.prototype.scrollTo;
  for (const [k, v] of Object.entries(sizes)) {
    saved.set(k, Object.getOwnPropertyDescriptor(HTMLElement.prototype, k));
    Object.defineProperty(HTMLElement.prototype, k, { configurable: true, get: () => v });
  }
});
afterAll(() => {
  for (const [k, d] of saved) if (d) Object.defineProperty(HTMLElement.prototype, k, d);
});

describe('LogViewer', () => {
  it('holds 100,000 lines but puts only the visible rows in the DOM, following the tail', async () => {
    const { buf, flush } = filled(100_000);
    renderWithMantine(<LogViewer buffer={buf} height={400} />);
    flush();
    expect(screen.getByTestId('log-count').textContent).toContain('100,000 lines');
    const rows = document.querySelectorAll('[data-log-line]');
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(100);
    // Following: the view scrolls to the last line.
    await waitFor(() => expect(screen.getByText('step output 99999')).toBeTruthy());
    expect(document.querySelectorAll('[data-log-line]').length).toBeLessThan(100);
  });

  it('filters by search text and counts the matches', () => {
    const { buf, flush } = filled(10_000);
    renderWithMantine(<LogViewer buffer={buf} height={400} />);
    flush();
    fireEvent.change(screen.getByLabelText('Search log'), { target: { value: 'warning' } });
    expect(screen.getByTestId('log-matches').textContent).toBe('10 matching');
    const shown = [...document.querySelectorAll('[data-log-line]')].map((r) => r.textContent);
    expect(shown.length).toBe(10);
    expect(shown.every((t) => t?.startsWith('warning'))).toBe(true);
    fireEvent.change(screen.getByLabelText('Search log'), { target: { value: 'no such text' } });
    expect(screen.getByText('No line matches.')).toBeTruthy();
  });

  it('pauses and resumes following, and downloads the buffer as text', () => {
    const { buf, flush } = filled(50);
    const created: Blob[] = [];
    const origCreate = URL.createObjectURL;
    URL.createObjectURL = vi.fn((b: Blob) => {
      created.push(b);
      return 'blob:test';
    }) as typeof URL.createObjectURL;
    URL.revokeObjectURL = vi.fn();
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => {});
    try {
      renderWithMantine(<LogViewer buffer={buf} height={400} fileName="job.log" />);
      flush();
      const pause = screen.getByRole('button', { name: 'Pause' });
      expect(pause.getAttribute('aria-pressed')).toBe('true');
      fireEvent.click(pause);
      expect(screen.getByRole('button', { name: 'Follow' }).getAttribute('aria-pressed')).toBe('false');
      expect(screen.getByRole('button', { name: 'Jump to end' })).toBeTruthy();
      fireEvent.click(screen.getByRole('button', { name: 'Download log' }));
      expect(click).toHaveBeenCalledTimes(1);
      expect(created).toHaveLength(1);
      expect(created[0]!.size).toBe(buf.toText().length);
    } finally {
      URL.createObjectURL = origCreate;
      click.mockRestore();
    }
  });
});
