import { type JobService, SYSTEM_ACTOR } from '../../../server/src/sdk.js';
import type { FastifyBaseLogger } from 'fastify';
import type { NetbootEngine } from './netboot.engine.js';
import type { NetbootRepo } from './netboot.repo.js';
import { type MachineName, parseMachineName } from './netboot.schema.js';

export interface ReconcileReport {
  /** Ready sessions whose export or target was rebuilt. */
  rebuilt: { machine: string; parts: string[] }[];
  /** Sessions whose start or stop job died with the panel: torn down. */
  settled: { machine: string; session: string; to: 'failed' | 'stopped' }[];
  /** Targets, exports and overlays nothing in the database accounts for: removed. */
  orphans: { machine: string; target: boolean; export: boolean; overlay: boolean }[];
  /** CHAP accounts of this panel that no active session accounts for: removed. */
  chapAccounts: string[];
  /** Image edits whose start or commit job died with the panel (or is gone): settled. */
  edits: { edit: string; to: 'failed' | 'stopped' }[];
}

/**
 * Makes tgt and the writeback directory agree with the database (at start, and periodically): a
 * ready session gets back a missing export or target; a session whose job died mid-way is torn
 * down and marked; a target, export or overlay of no live session is removed (kept writebacks of
 * existing machines stay). Each machine is handled under its lock, and a session whose job is
 * still queued or running is left to that job.
 */
export async function reconcile(d: { repo: NetbootRepo; engine: NetbootEngine; jobs: JobService; log: FastifyBaseLogger; changed(id: string): Promise<void>; edits?: { settleDead(jobLive: (jobId: string) => Promise<boolean>): Promise<ReconcileReport['edits']> } }): Promise<ReconcileReport> {
  const { repo, engine } = d;
  const report: ReconcileReport = { rebuilt: [], settled: [], orphans: [], chapAccounts: [], edits: [] };
  const prefix = `${engine.prefix}:`;
  const targets = await engine.tgt.listOwnTargets();
  const exports = await engine.wb.list();
  const names = new Set<MachineName>();
  for (const t of targets) {
    if (!t.iqn.startsWith(prefix)) continue;
    try {
      names.add(parseMachineName(t.iqn.slice(prefix.length)));
    } catch {
      /* not a machine target of ours */
    }
  }
  for (const e of exports) names.add(e.name);
  for (const n of engine.overlayNames()) names.add(n);
  const machines = await repo.machines();
  for (const s of await repo.sessions({ active: true })) {
    const m = machines.find((x) => x.id === s.machineId);
    if (m) names.add(m.name);
  }
  const jobLive = async (id: string | null) => {
    if (!id) return false;
    try {
      const j = await d.jobs.get(id, SYSTEM_ACTOR);
      return j.state === 'queued' || j.state === 'running';
    } catch {
      return false;
    }
  };

  for (const name of [...names].sort()) {
    await engine.withLock(name, async () => {
      const m = await repo.machineBy('name', name);
      const s = m ? await repo.activeSession(m.id) : undefined;
      if (m && s) {
        if ((s.state === 'starting' || s.state === 'stopping') && (await jobLive(s.jobId))) return;
        if (s.state === 'ready') {
          const v = await repo.version(s.versionId);
          if (!v) return;
          const { rebuilt } = await engine.ensureUp(m, s, v);
          if (rebuilt.length) {
            report.rebuilt.push({ machine: name, parts: rebuilt });
            d.log.warn({ machine: name, rebuilt }, 'netboot: rebuilt a ready session');
          }
          return;
        }
        await engine.teardown(name, { keepWriteback: m.keepWriteback });
        if (!m.keepWriteback) await repo.updateMachine(m.id, { writebackVersionId: null });
        const to = s.state === 'starting' ? 'failed' as const : 'stopped' as const;
        await repo.updateSession(s.id, { state: to, stoppedAt: Date.now(), ...(to === 'failed' ? { error: s.error ?? 'the panel stopped while the session was starting' } : {}) });
        report.settled.push({ machine: name, session: s.id, to });
        d.log.warn({ machine: name, session: s.id, to }, 'netboot: settled a session left half-done by a previous panel');
        await d.changed(m.id);
        return;
      }
      // no live session: nothing of this machine may stay, except a kept writeback
      const keep = !!m?.keepWriteback;
      const r = await engine.teardown(name, { keepWriteback: keep });
      if (r.target || r.export || r.overlay) {
        report.orphans.push({ machine: name, ...r });
        d.log.warn({ machine: name, ...r }, 'netboot: removed orphans');
      }
    });
  }
  // CHAP accounts: listed first, then the sessions read, so an account made by a start that began
  // meanwhile belongs to a session already in the database and is kept
  const listed = await engine.orphanChapUsers(new Set());
  if (listed.length) {
    const live = new Set((await repo.sessions({ active: true })).map((s) => engine.chapUser({ id: s.machineId })));
    for (const u of listed.filter((x) => !live.has(x))) {
      if (await engine.tgt.deleteAccount(u)) report.chapAccounts.push(u);
    }
    if (report.chapAccounts.length) d.log.warn({ accounts: report.chapAccounts }, 'netboot: removed CHAP accounts of no session');
  }
  if (d.edits) {
    report.edits = await d.edits.settleDead(jobLive);
    if (report.edits.length) d.log.warn({ edits: report.edits }, 'netboot: settled image edits left half-done by a previous panel');
  }
  engine.invalidateTargets();
  return report;
}
