import { describe, expect, it } from 'vitest';
import { CapabilityRegistry, type VmDiskEditor } from './capabilities.js';

const editor = (tag: string): VmDiskEditor => ({
  permission: `${tag}.operate`,
  start: async () => ({ vmId: tag, consoleUrl: `/${tag}` }),
  state: async () => ({ state: 'running', reason: null }),
  stop: async () => {},
});

describe('CapabilityRegistry (ctx.provide / ctx.use)', () => {
  it('without a provider, use says so instead of throwing', () => {
    const r = new CapabilityRegistry(() => ({ ok: true, reason: null }));
    expect(r.use('vm-disk-editor')).toEqual({ available: false, provider: null, reason: 'no enabled module provides vm-disk-editor' });
  });

  it('resolves at call time: a provider registered after the user is seen; its removal too', () => {
    const r = new CapabilityRegistry(() => ({ ok: true, reason: null }));
    const before = r.use('vm-disk-editor');
    const remove = r.provide('vps', 'vm-disk-editor', editor('vps'));
    const now = r.use('vm-disk-editor');
    expect(before.available).toBe(false);
    expect(now).toMatchObject({ available: true, provider: 'vps' });
    remove();
    expect(r.use('vm-disk-editor').available).toBe(false);
  });

  it('a provider whose module is unavailable provides nothing, with its reason', () => {
    let ok = false;
    const r = new CapabilityRegistry((id) => ({ ok, reason: ok ? null : `${id}: libvirt does not answer` }));
    r.provide('vps', 'vm-disk-editor', editor('vps'));
    expect(r.use('vm-disk-editor')).toEqual({ available: false, provider: 'vps', reason: 'module vps provides vm-disk-editor but is unavailable: vps: libvirt does not answer' });
    ok = true;
    expect(r.use('vm-disk-editor').available).toBe(true);
  });

  it('a second module cannot take over a name another provides (no silent hijack)', () => {
    const r = new CapabilityRegistry(() => ({ ok: true, reason: null }));
    r.provide('vps', 'vm-disk-editor', editor('vps'));
    expect(() => r.provide('evil', 'vm-disk-editor', editor('evil'))).toThrow(/already provided by module vps/);
    const u = r.use('vm-disk-editor');
    expect(u.available && u.impl.permission).toBe('vps.operate');
  });

  it('a stale remover does not withdraw a newer registration of the same module', () => {
    const r = new CapabilityRegistry(() => ({ ok: true, reason: null }));
    const old = r.provide('vps', 'vm-disk-editor', editor('v1'));
    r.provide('vps', 'vm-disk-editor', editor('v2'));
    old();
    const u = r.use('vm-disk-editor');
    expect(u.available && u.impl.permission).toBe('v2.operate');
  });
});
