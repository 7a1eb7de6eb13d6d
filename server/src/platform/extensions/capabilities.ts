import type { Actor } from '../rbac/permissions.js';

/**
 * Capabilities: one module provides an implementation under a name (`ctx.provide`), another uses
 * it (`ctx.use`) without importing the first. The contract of each name is a type here, in the
 * platform, because modules import only the SDK. ADR 0013.
 */

/**
 * `vm-disk-editor`: boot a disk file the caller made (a qcow2 overlay it owns) as a temporary VM
 * whose console the operator uses, then stop it. The editor never deletes or moves the disk; the
 * caller commits or discards it. The vps module provides it.
 */
export interface VmDiskEditor {
  /** The permission the actor needs besides the caller's own (the editor's console and VM). */
  readonly permission: string;
  start(actor: Actor, o: {
    /** A label for the VM (DNS label characters). */
    name: string;
    /** An absolute path the editor may open read-write; the caller keeps ownership. */
    disk: { path: string; format: 'qcow2' | 'raw' };
    memoryMb?: number;
    vcpus?: number;
    /** No network unless asked: an image being edited should not reach the LAN by surprise. */
    network?: boolean;
  }): Promise<{ vmId: string; consoleUrl: string }>;
  state(actor: Actor, vmId: string): Promise<{ state: 'starting' | 'running' | 'stopped' | 'gone'; reason: string | null }>;
  /** Stops the VM and removes it (never its disk). Idempotent: a VM already gone is fine. */
  stop(actor: Actor, vmId: string): Promise<void>;
}

/** Every capability name and its contract. A new capability adds a line here (and an ADR note). */
export interface CapabilityContracts {
  'vm-disk-editor': VmDiskEditor;
}
export type CapabilityKey = keyof CapabilityContracts;

/** What `ctx.use(name)` answers at the moment it is called. */
export type CapabilityUse<K extends CapabilityKey> =
  | { available: true; provider: string; impl: CapabilityContracts[K] }
  | { available: false; provider: string | null; reason: string };

/** One registry per app instance: `ctx.provide(name, impl)` / `ctx.use(name)`. */
export class CapabilityRegistry {
  private readonly impls = new Map<CapabilityKey, { provider: string; impl: unknown }>();

  /**
   * @param usable whether a module is usable now and, if not, why (its required engines answer).
   */
  constructor(private readonly usable: (moduleId: string) => { ok: boolean; reason: string | null }) {}

  provide<K extends CapabilityKey>(provider: string, name: K, impl: CapabilityContracts[K]): () => void {
    const had = this.impls.get(name);
    if (had && had.provider !== provider) throw new Error(`capability ${name} is already provided by module ${had.provider}; module ${provider} cannot provide it too`);
    const entry = { provider, impl };
    this.impls.set(name, entry);
    return () => {
      if (this.impls.get(name) === entry) this.impls.delete(name);
    };
  }

  /**
   * Resolved on each call (modules register in any order, and a provider's engines come and go):
   * call it when the capability is needed, not once in `register`.
   */
  use<K extends CapabilityKey>(name: K): CapabilityUse<K> {
    const e = this.impls.get(name);
    if (!e) return { available: false, provider: null, reason: `no enabled module provides ${name}` };
    const u = this.usable(e.provider);
    if (!u.ok) return { available: false, provider: e.provider, reason: `module ${e.provider} provides ${name} but is unavailable${u.reason ? `: ${u.reason}` : ''}` };
    return { available: true, provider: e.provider, impl: e.impl as CapabilityContracts[K] };
  }
}
