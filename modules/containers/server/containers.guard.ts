import type { ContainersConfig } from './containers.config.js';
import type { ContainersDb } from './containers.migrations.js';
import { checkHostPath, isHostPath, volumeName, type HostPathRules } from './containers.policy.js';
import type { ServiceRecord } from './containers.repo.js';
import type { ContainerSpec } from './containers.schema.js';
import { LABEL_MANAGED, LABEL_NAMESPACE, LABEL_SERVICE, type ContainerState, type CreateContainerInput } from './docker.client.js';

/** A volume Docker made for the image's own VOLUME (one per container, never shared). */
const ANONYMOUS_VOLUME = /^[0-9a-f]{64}$/;

/**
 * Where the jobs and the wake controller apply the tenant rules at the engine (the service applies
 * them to requests): what a container may mount, and whether a stored definition may start.
 * Definitions stored before these rules existed are re-checked here: a non-admin's service with a
 * host bind (or another service's volume) is refused at start with the reason, never silently kept.
 */
export class ContainersGuard {
  constructor(private readonly d: { config: ContainersConfig; dataDir: string; db: ContainersDb; namespace: string }) {}

  get config(): ContainersConfig {
    return this.d.config;
  }

  hostPathRules(): HostPathRules {
    return { roots: this.d.config.hostPathRoots, protectedPaths: [this.d.dataDir, this.d.config.dockerSocket] };
  }

  /** Owners whose services may bind host paths: admins (and the system, for services it owns). */
  async ownerIsAdmin(ownerId: string | null): Promise<boolean> {
    if (ownerId === null) return true;
    const row = await this.d.db.selectFrom('users').select(['role', 'status']).where('id', '=', ownerId).executeTakeFirst();
    return row?.role === 'admin' && row.status === 'active';
  }

  volumeLabels(r: ServiceRecord): Record<string, string> {
    return { [LABEL_MANAGED]: 'true', [LABEL_NAMESPACE]: this.d.namespace, [LABEL_SERVICE]: r.id, 'slipway.owner': r.ownerId ?? 'system' };
  }

  /**
   * The mounts Docker is given for one container: named volumes become this service's own Docker
   * volume; host paths are allowed only for an admin-owned service and are re-checked (realpath,
   * roots, protected paths) right before the container is created. Throws with the reason.
   */
  async mounts(r: ServiceRecord, c: ContainerSpec): Promise<CreateContainerInput['mounts']> {
    const out: CreateContainerInput['mounts'] = [];
    const admin = c.volumes.some((v) => isHostPath(v.source)) ? await this.ownerIsAdmin(r.ownerId) : true;
    for (const v of c.volumes) {
      if (!isHostPath(v.source)) {
        out.push({ type: 'volume', source: volumeName(r.id, v.source), target: v.target, readOnly: v.readOnly });
        continue;
      }
      if (!admin) throw new Error(`container ${c.name} bind-mounts the host path ${v.source}: only an admin's service may mount host paths; use a named volume`);
      const checked = checkHostPath(v.source, this.hostPathRules());
      if (!checked.ok) throw new Error(`container ${c.name}: ${checked.reason}`);
      out.push({ type: 'bind', source: checked.path, target: v.target, readOnly: v.readOnly });
    }
    return out;
  }

  /** Why a stored service must not start (its definition or its existing containers break the rules), or null. */
  async startRefusal(r: ServiceRecord, states: ContainerState[]): Promise<string | null> {
    const admin = await this.ownerIsAdmin(r.ownerId);
    for (const c of r.spec.containers) {
      for (const v of c.volumes) {
        if (!isHostPath(v.source)) continue;
        if (!admin) return `refused to start: container ${c.name} bind-mounts the host path ${v.source}, which only an admin's service may do; change it to a named volume`;
        const checked = checkHostPath(v.source, this.hostPathRules());
        if (!checked.ok) return `refused to start: container ${c.name}: ${checked.reason}`;
      }
    }
    const own = `slw-${r.id}-`;
    for (const s of states) {
      for (const m of s.mounts) {
        if (m.type === 'bind') {
          if (!admin) return `refused to start: container ${s.name} has the host path ${m.source} mounted, which only an admin's service may do; save the service again with named volumes`;
          const checked = checkHostPath(m.source, this.hostPathRules());
          if (!checked.ok) return `refused to start: container ${s.name}: ${checked.reason}`;
        } else if (m.type === 'volume' && !admin && !(m.name ?? '').startsWith(own) && !ANONYMOUS_VOLUME.test(m.name ?? '')) {
          return `refused to start: container ${s.name} mounts the volume ${m.name ?? m.source}, which is not this service's own; save the service again to move it to its own volumes`;
        }
      }
    }
    return null;
  }
}
