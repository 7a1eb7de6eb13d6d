import { z } from 'zod';

/** `local` or a host's id (UUIDv7). */
export const HostId = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'a host id').default('local');
export const HostQuery = z.object({ host: HostId });

export const HostName = z.string().regex(/^[a-z0-9][a-z0-9.-]{0,62}$/, 'lower-case letters, digits, dots and dashes');
/** A DNS name, IPv4 or IPv6 address; never something that starts like an option. */
export const HostAddress = z.string().max(253).regex(/^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9a-fA-F:]+)$/, 'a host name or IP address');
export const SshUser = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a Unix user name');
export const Fingerprint = z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'an OpenSSH SHA256 fingerprint (SHA256:…)');
export const Port = z.coerce.number().int().min(1).max(65535);

export const Host = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['local', 'ssh']),
  address: z.string().nullable(),
  port: z.number().nullable(),
  username: z.string().nullable(),
  hostKeyFingerprint: z.string().nullable(),
  capabilities: z.record(z.string(), z.boolean()),
  status: z.string(),
  lastCheckedAt: z.number().nullable(),
});
export const HostResponse = z.object({ host: Host });

export const CreateHost = z.object({ name: HostName, address: HostAddress, port: Port.default(22), username: SshUser.default('root'), hostKeyFingerprint: Fingerprint });
// No defaults here: a PATCH changes only what it names.
export const UpdateHost = z.object({ name: HostName, address: HostAddress, port: Port, username: SshUser, hostKeyFingerprint: Fingerprint }).partial().refine((v) => Object.keys(v).length > 0, 'nothing to change');
export const ProbeHost = z.object({ address: HostAddress, port: Port.default(22) });

export const ConnectionTest = z.object({
  ok: z.boolean(),
  status: z.string(),
  hostKeyFingerprint: z.string().nullable(),
  hostKeyMatches: z.boolean().nullable(),
  latencyMs: z.number(),
  system: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
