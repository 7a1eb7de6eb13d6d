import { createTestApp, type SignedIn, type TestApp } from '../../../../server/src/testing/harness.js';
import { type JobView, type Resolver } from '../../../../server/src/testing/index.js';
import { createAppsModule } from '../index.js';
import { createFakeDokku, type FakeDokku, type FakeDokkuState } from './fake-dokku.js';

/** Names the tests' git remotes resolve to (public unless named internal). */
export const testResolver: Resolver = async (host) => {
  const table: Record<string, string[]> = {
    'git.example.com': ['93.184.216.34'],
    'internal.example.com': ['10.0.0.5'],
    'metadata.example.com': ['169.254.169.254'],
    'loop.example.com': ['127.0.0.1'],
  };
  const hit = table[host];
  if (!hit) throw new Error(`ENOTFOUND ${host}`);
  return hit;
};

export interface AppsTestPanel {
  t: TestApp;
  fake: FakeDokku;
  inject(who: SignedIn, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: unknown): Promise<{ status: number; body: any; text: string }>;
  waitJob(id: string, ms?: number): Promise<JobView>;
  close(): Promise<void>;
}

/** A panel with the apps module driving the fake dokku locally. */
export async function appsPanel(state: FakeDokkuState = {}, env: Record<string, string> = {}, opts: { bin?: (fake: FakeDokku) => string } = {}): Promise<AppsTestPanel> {
  const fake = createFakeDokku({ images: ['nginx:1.26', 'nginx:1.27', 'nginx:1.28'], repos: { 'https://git.example.com/org/site.git': { refs: { main: 'a'.repeat(40), 'release/2': 'b'.repeat(40) } } }, ...state });
  const t = await createTestApp({
    modules: [createAppsModule({ resolve: testResolver })],
    env: { SLIPWAY_APPS_DOKKU_BIN: opts.bin ? opts.bin(fake) : fake.bin, SLIPWAY_APPS_REFRESH_INTERVAL_SECONDS: '0', SLIPWAY_APPS_CERT_CHECK_INTERVAL_HOURS: '0', SLIPWAY_JOB_WORKERS: '3', ...env },
  });
  return {
    t,
    fake,
    async inject(who, method, url, payload) {
      const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: who.headers, ...(payload === undefined ? {} : { payload: payload as object }) });
      let body: unknown = null;
      try {
        body = res.json();
      } catch {
        body = null;
      }
      return { status: res.statusCode, body, text: res.body };
    },
    waitJob: (id, ms = 60_000) => t.services.jobs.waitFor(id, ms),
    async close() {
      await t.close();
      fake.cleanup();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
