import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fake-dokku.mjs');

export interface FakeApp {
  createdAt?: number;
  deploySource?: string;
  deploySourceMetadata?: string;
  image?: string | null;
  gitSha?: string;
  env?: Record<string, string>;
  vhosts?: string[];
  scale?: Record<string, number>;
  procfile?: string[];
  deployed?: boolean;
  running?: boolean;
  containers?: Record<string, string>;
  checks?: { disabled?: string; skipped?: string; waitToRetire?: string };
  ports?: { scheme: string; host_port: number; container_port: number }[];
  letsencrypt?: { email?: string; active?: boolean; expiration?: string };
  failChecks?: boolean;
}

export interface FakeDokkuState {
  apps?: Record<string, FakeApp>;
  /** Images already on the host (no pull). */
  images?: string[];
  /** Git remotes `git:sync` can reach: url → { refs: { branch: sha } }. */
  repos?: Record<string, { refs: Record<string, string>; defaultBranch?: string }>;
  /** Images whose deploy fails its zero-downtime checks. */
  failChecksImages?: string[];
  fail?: { pull?: boolean; pullImages?: string[]; letsencrypt?: boolean };
  /** Pause between deploy output lines (ms), so a live log can be watched. */
  deployDelayMs?: number;
  logIntervalMs?: number;
  certDays?: number;
  globalDomain?: string;
}

export interface FakeDokkuCall {
  argv: string[];
  /** 'ssh' when the argv was re-split from SSH_ORIGINAL_COMMAND, as dokku does. */
  via: 'argv' | 'ssh';
  original: string | null;
}

export interface FakeDokku {
  dir: string;
  /** Absolute path of the `dokku` executable. */
  bin: string;
  /** What dokku received, in order (after its own SSH_ORIGINAL_COMMAND re-split). */
  calls(): string[][];
  callRecords(): FakeDokkuCall[];
  state(): Required<FakeDokkuState> & { apps: Record<string, Required<FakeApp>> };
  setState(s: FakeDokkuState): void;
  patchApp(name: string, patch: Partial<FakeApp>): void;
  /** Build records of an app, as plugins/builds stores them. */
  builds(app: string): { id: string; status: string; pid: number; source: string }[];
  /**
   * An `authorized_keys` line that forces every login through this fake, as sshcommand
   * (`sshcommand acl-add dokku …`, KEY_PREFIX) writes it for the dokku user.
   */
  sshcommandKey(publicKey: string): string;
  cleanup(): void;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function createFakeDokku(initial: FakeDokkuState = {}): FakeDokku {
  const dir = mkdtempSync(path.join(tmpdir(), 'slipway-fake-dokku-'));
  const bin = path.join(dir, 'dokku');
  writeFileSync(bin, `#!/bin/sh\nFAKE_DOKKU_DIR=${q(dir)} exec ${q(process.execPath)} ${q(script)} "$@"\n`);
  chmodSync(bin, 0o755);
  const statePath = path.join(dir, 'state.json');
  const records = (): FakeDokkuCall[] => {
    const f = path.join(dir, 'calls.jsonl');
    if (!existsSync(f)) return [];
    return readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as FakeDokkuCall);
  };
  const fake: FakeDokku = {
    dir,
    bin,
    calls: () => records().map((r) => r.argv),
    callRecords: records,
    state: () => JSON.parse(readFileSync(statePath, 'utf8')) as ReturnType<FakeDokku['state']>,
    setState(s) {
      const apps: Record<string, FakeApp> = {};
      for (const [name, a] of Object.entries(s.apps ?? {})) {
        apps[name] = {
          createdAt: 1_700_000_000, deploySource: '', deploySourceMetadata: '', image: null, gitSha: '', env: {}, vhosts: [], scale: { web: 1 },
          deployed: false, running: false, containers: {}, ports: [], failChecks: false, ...a,
          checks: { disabled: '', skipped: '', waitToRetire: '', ...a.checks },
          letsencrypt: { email: '', active: false, expiration: '', ...a.letsencrypt },
        };
      }
      writeFileSync(statePath, JSON.stringify({ images: [], repos: {}, fail: {}, ...s, apps }, null, 2));
    },
    patchApp(name, patch) {
      const st = fake.state();
      st.apps[name] = { ...st.apps[name]!, ...patch } as Required<FakeApp>;
      writeFileSync(statePath, JSON.stringify(st, null, 2));
    },
    builds(app) {
      const d = path.join(dir, 'data', 'builds', app);
      if (!existsSync(d)) return [];
      return readdirSync(d).filter((f) => f.endsWith('.json'))
        .map((f) => JSON.parse(readFileSync(path.join(d, f), 'utf8')) as { id: string; status: string; pid: number; source: string; started_at: string })
        .sort((a, b) => (a.started_at < b.started_at ? -1 : 1));
    },
    sshcommandKey(publicKey) {
      // The login shell expands $SSH_ORIGINAL_COMMAND unquoted; dokku then re-splits the original itself.
      return `command="FINGERPRINT=SHA256:test NAME=\\"default\\" ${bin} $SSH_ORIGINAL_COMMAND",no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding ${publicKey.trim()}`;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  fake.setState(initial);
  return fake;
}
