import { ExecError, type ProcessRunner } from '../../../../server/src/sdk.js';

/** A unit name systemd accepts, and never an option: starts with a letter or digit. */
export const UNIT_NAME = /^[A-Za-z0-9][A-Za-z0-9:_.@-]{0,127}$/;

export const UNIT_PROPERTIES = ['Id', 'Description', 'LoadState', 'ActiveState', 'SubState', 'UnitFileState', 'MainPID', 'MemoryCurrent', 'ActiveEnterTimestamp', 'StateChangeTimestamp'] as const;

export interface UnitStatus {
  unit: string;
  description: string;
  loadState: string;
  activeState: string;
  subState: string;
  unitFileState: string | null;
  mainPid: number | null;
  memoryBytes: number | null;
  /** When it entered its current state (epoch ms), from StateChangeTimestamp. */
  since: number | null;
}

export type UnitAction = 'start' | 'stop' | 'restart' | 'reload';

function assertUnit(unit: string): void {
  if (!UNIT_NAME.test(unit)) throw new TypeError(`refusing unit name ${JSON.stringify(unit)}`);
}

/** `systemctl show` timestamps look like `Sun 2026-11-22 01:20:31 UTC`; empty or "n/a" when never. */
export function parseSystemdTimestamp(v: string | undefined): number | null {
  if (!v || v === 'n/a') return null;
  const m = /^\w{3} (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (\S+)$/.exec(v.trim());
  if (!m) return null;
  const zone = m[3] === 'UTC' || m[3] === 'GMT' ? 'Z' : '';
  const t = Date.parse(`${m[1]}T${m[2]}${zone}`);
  return Number.isFinite(t) ? t : null;
}

/** `systemctl show` prints one `Key=Value` block per unit, blocks separated by an empty line. */
export function parseShowOutput(text: string): UnitStatus[] {
  return text
    .split(/\n\s*\n/)
    .map((block) => {
      const kv = new Map<string, string>();
      for (const line of block.split('\n')) {
        const i = line.indexOf('=');
        if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
      }
      return kv;
    })
    .filter((kv) => kv.has('Id'))
    .map((kv) => {
      const pid = Number(kv.get('MainPID'));
      const mem = kv.get('MemoryCurrent');
      // [not set] or 2^64-1 means "no accounting" for that unit.
      const memNum = mem && /^\d+$/.test(mem) && mem !== '18446744073709551615' ? Number(mem) : null;
      return {
        unit: kv.get('Id')!,
        description: kv.get('Description') ?? '',
        loadState: kv.get('LoadState') ?? 'unknown',
        activeState: kv.get('ActiveState') ?? 'unknown',
        subState: kv.get('SubState') ?? 'unknown',
        unitFileState: kv.get('UnitFileState') || null,
        mainPid: pid > 0 ? pid : null,
        memoryBytes: memNum,
        since: parseSystemdTimestamp(kv.get('StateChangeTimestamp') ?? kv.get('ActiveEnterTimestamp')),
      };
    });
}

/** `systemctl list-units … --plain --no-legend`: first column is the unit name. */
export function parseListUnits(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim().replace(/^[●*]\s*/, '').split(/\s+/)[0] ?? '')
    .filter((u) => UNIT_NAME.test(u));
}

/** The one adapter for `systemctl`: argv arrays, unit names validated and placed after `--`. */
export class SystemctlCli {
  constructor(private readonly run: ProcessRunner) {}

  /** True when systemd is PID 1 and answering (`is-system-running` prints running/degraded/…; "offline" without it). */
  async isLive(): Promise<{ live: boolean; state: string }> {
    try {
      const r = await this.run.exec('systemctl', ['is-system-running'], { timeoutMs: 10_000, okExitCodes: [0, 1] });
      const state = r.stdout.trim() || 'offline';
      return { live: !['offline', 'unknown', ''].includes(state), state };
    } catch (e) {
      if (e instanceof ExecError) return { live: false, state: e.isMissingProgram ? 'not-installed' : 'offline' };
      throw e;
    }
  }

  async listServiceUnits(): Promise<string[]> {
    const r = await this.run.exec('systemctl', ['list-units', '--type=service', '--all', '--plain', '--no-legend', '--no-pager'], { timeoutMs: 15_000 });
    const loaded = parseListUnits(r.stdout);
    // Installed but never loaded units (e.g. disabled) only show in list-unit-files.
    const files = await this.run.exec('systemctl', ['list-unit-files', '--type=service', '--plain', '--no-legend', '--no-pager'], { timeoutMs: 15_000, okExitCodes: [0, 1] });
    return [...new Set([...loaded, ...parseListUnits(files.stdout)])];
  }

  async show(units: readonly string[]): Promise<UnitStatus[]> {
    if (!units.length) return [];
    units.forEach(assertUnit);
    const r = await this.run.exec('systemctl', ['show', '--no-pager', `--property=${UNIT_PROPERTIES.join(',')}`, '--', ...units], { timeoutMs: 15_000 });
    return parseShowOutput(r.stdout);
  }

  async act(action: UnitAction, unit: string, signal?: AbortSignal): Promise<void> {
    assertUnit(unit);
    await this.run.exec('systemctl', [action, '--no-ask-password', '--', unit], { timeoutMs: 90_000, signal });
  }
}
