import { type ProcessRunner, UnavailableError, ValidationError } from '../../../../server/src/sdk.js';

/** A chart/context id such as `system.cpu` or `net.eth0`: never anything that could change the URL. */
export const NETDATA_CHART = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$/;

export type NetdataApiVersion = 1 | 2 | 3;

export interface NetdataSeries {
  apiVersion: NetdataApiVersion;
  chart: string;
  /** Dimension names, in the order of each point's values. */
  labels: string[];
  /** Oldest first; `at` in epoch ms. */
  points: { at: number; values: (number | null)[] }[];
}

/** Fetches a Netdata API path on its host: directly for the local host, with `curl` over SSH for a remote one. */
export type NetdataFetch = (pathAndQuery: string) => Promise<{ status: number; body: string }>;

export function localNetdataFetch(baseUrl: string, timeoutMs = 5000): NetdataFetch {
  return async (p) => {
    try {
      const r = await fetch(baseUrl.replace(/\/$/, '') + p, { signal: AbortSignal.timeout(timeoutMs) });
      return { status: r.status, body: await r.text() };
    } catch (e) {
      throw new UnavailableError(`Netdata at ${baseUrl} did not answer: ${(e as Error).message}`);
    }
  };
}

/** Remote Netdata listens on the host's loopback: ask it from there. `-w` appends the status code. */
export function remoteNetdataFetch(run: ProcessRunner, baseUrl = 'http://127.0.0.1:19999', timeoutMs = 5000): NetdataFetch {
  return async (p) => {
    const r = await run.exec('curl', ['-sS', '--max-time', String(Math.ceil(timeoutMs / 1000)), '-w', '\n%{http_code}', '--', baseUrl + p], { timeoutMs: timeoutMs + 2000, okExitCodes: [0, 7, 28] });
    if (r.exitCode !== 0) throw new UnavailableError(`Netdata on ${run.host} did not answer (curl exit ${r.exitCode})`);
    const nl = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(nl + 1)), body: r.stdout.slice(0, nl) };
  };
}

const toMs = (t: number) => (t > 1e12 ? t : t * 1000);
const cell = (v: unknown): number | null => (typeof v === 'number' ? v : Array.isArray(v) && typeof v[0] === 'number' ? v[0] : null);

/**
 * The one adapter for Netdata's HTTP API. Detects the newest API the agent serves (v3, v2, v1;
 * Debian's 1.37 serves only v1 and answers the others "Unsupported API version") and normalises
 * chart data to one shape.
 */
export class NetdataClient {
  private version: NetdataApiVersion | null = null;

  constructor(private readonly get: NetdataFetch) {}

  async detect(): Promise<{ apiVersion: NetdataApiVersion; agentVersion: string | null }> {
    for (const v of [3, 2, 1] as const) {
      const r = await this.get(`/api/v${v}/info`);
      if (r.status !== 200) continue;
      try {
        const info = JSON.parse(r.body) as { version?: string; agents?: { version?: string }[] };
        this.version = v;
        return { apiVersion: v, agentVersion: info.version ?? info.agents?.[0]?.version ?? null };
      } catch {
        continue;
      }
    }
    throw new UnavailableError('Netdata answered no known API version');
  }

  async charts(): Promise<{ id: string; title: string; family: string | null; units: string | null }[]> {
    // /api/v1/charts exists on every agent version (v2/v3 keep v1 endpoints).
    const r = await this.get('/api/v1/charts');
    if (r.status !== 200) throw new UnavailableError(`Netdata /api/v1/charts answered ${r.status}`);
    const body = JSON.parse(r.body) as { charts?: Record<string, { id?: string; title?: string; family?: string; units?: string }> };
    return Object.entries(body.charts ?? {}).map(([id, c]) => ({ id: c.id ?? id, title: c.title ?? id, family: c.family ?? null, units: c.units ?? null }));
  }

  /** The last `seconds` of a chart in up to `points` points. */
  async data(chart: string, seconds: number, points: number): Promise<NetdataSeries> {
    if (!NETDATA_CHART.test(chart)) throw new ValidationError(`Invalid Netdata chart id ${JSON.stringify(chart.slice(0, 60))}`);
    const v = this.version ?? (await this.detect()).apiVersion;
    const after = -Math.max(1, Math.floor(seconds));
    const n = Math.max(1, Math.min(1000, Math.floor(points)));
    if (v === 1) {
      const r = await this.get(`/api/v1/data?chart=${encodeURIComponent(chart)}&after=${after}&points=${n}&format=json`);
      if (r.status === 404 || r.status === 400) throw new ValidationError(`Netdata has no chart ${chart}`);
      if (r.status !== 200) throw new UnavailableError(`Netdata answered ${r.status}`);
      const body = JSON.parse(r.body) as { labels: string[]; data: unknown[][] };
      return {
        apiVersion: 1,
        chart,
        labels: body.labels.slice(1),
        points: body.data.map((row) => ({ at: toMs(Number(row[0])), values: row.slice(1).map(cell) })).sort((a, b) => a.at - b.at),
      };
    }
    // v2/v3: contexts with one value per dimension; json2 cells are [value, anomaly%, annotations].
    const r = await this.get(`/api/v${v}/data?scope_contexts=${encodeURIComponent(chart)}&contexts=${encodeURIComponent(chart)}&after=${after}&points=${n}&group_by=dimension&format=json2`);
    if (r.status !== 200) throw new UnavailableError(`Netdata answered ${r.status}`);
    const body = JSON.parse(r.body) as { result?: { labels?: string[]; data?: unknown[][] } };
    const labels = body.result?.labels ?? [];
    return {
      apiVersion: v,
      chart,
      labels: labels.slice(1),
      points: (body.result?.data ?? []).map((row) => ({ at: toMs(Number(row[0])), values: row.slice(1).map(cell) })).sort((a, b) => a.at - b.at),
    };
  }
}
