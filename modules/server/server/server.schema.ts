import { z } from 'zod';
import { LOG_LEVELS } from './logs/log-line.js';

// Host shapes belong to the platform (server/src/platform/hosts); re-exported for this module's routes.
export {
  ConnectionTest, CreateHost, Fingerprint, Host, HostAddress, HostId, HostName, HostQuery, HostResponse, Port,
  ProbeHost, SshUser, UpdateHost,
} from '../../../server/src/sdk.js';
import { HostId } from '../../../server/src/sdk.js';

/** Epoch ms, or negative seconds relative to now (`-3600` = an hour ago). */
const TimeParam = z.coerce.number().int().transform((v) => (v <= 0 ? Date.now() + v * 1000 : v));
export const MetricsQuery = z.object({
  host: HostId,
  from: TimeParam.optional(),
  to: TimeParam.optional(),
  /** Bucket size in ms (averages); default: full resolution up to 1 h, else 1 min. */
  step: z.coerce.number().int().min(1000).max(86_400_000).optional(),
});

export const UnitName = z.string().min(1).max(128);
export const ServiceAction = z.enum(['start', 'stop', 'restart', 'reload']);

export const UnitStatus = z.object({
  unit: z.string(), description: z.string(), loadState: z.string(), activeState: z.string(), subState: z.string(),
  unitFileState: z.string().nullable(), mainPid: z.number().nullable(), memoryBytes: z.number().nullable(), since: z.number().nullable(),
});

export const LogQuery = z.object({
  host: HostId,
  lines: z.coerce.number().int().min(0).max(100_000).default(200),
  q: z.string().max(200).optional(),
  level: z.enum(LOG_LEVELS).optional(),
});
export const LogLineSchema = z.object({ text: z.string(), level: z.enum(LOG_LEVELS).nullable(), at: z.number().optional() });

export const NetdataQuery = z.object({
  host: HostId,
  chart: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$/, 'a Netdata chart id such as system.cpu').default('system.cpu'),
  seconds: z.coerce.number().int().min(1).max(7 * 86400).default(600),
  points: z.coerce.number().int().min(1).max(1000).default(120),
});
