import { z } from 'zod';
import { JobAccepted, JobSummary, IdParam } from '../../http/schemas.js';
import { serveLiveLog } from '../live-log/live-log.js';
import { corePermissions } from '../rbac/core-permissions.js';
import type { HttpApp } from '../module.js';
import type { JobRunnerDeps } from './index.js';
import { jobLogSource } from './job-log.stream.js';
import type { DurableJobRunner } from './job.service.js';
import { JOB_STATES } from './types.js';

const JobListQuery = z.object({
  state: z
    .string()
    .max(200)
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.enum(JOB_STATES)))
    .optional(),
  type: z.string().max(100).regex(/^[a-z0-9][a-z0-9._-]*$/i, 'a job type such as sites.create').optional(),
  resource: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.string().max(100).optional(),
});

const Seq = z.coerce.number().int().min(0);
const LogLine = z.object({ seq: z.number(), at: z.number(), stream: z.string(), line: z.string() });
const JobResponse = z.object({ job: JobSummary });

/** The job API: list, view, cancel, logs (JSON page, SSE, WebSocket) and the self-test. */
export function registerJobRoutes(app: HttpApp, jobs: DurableJobRunner, deps: Pick<JobRunnerDeps, 'log'>): void {
  const read = { permission: corePermissions['jobs.read'] };
  const logs = { permission: corePermissions['jobs.logs'] };

  app.get('/jobs', {
    config: read,
    schema: { operationId: 'listJobs', summary: 'List jobs, newest first (filters; `before` pages)', tags: ['jobs'], querystring: JobListQuery, response: { 200: z.object({ items: z.array(JobSummary), nextBefore: z.string().nullable() }) } },
  }, async (req) => jobs.list(req.query, req.actor));

  app.post('/jobs/selftest', {
    config: { permission: corePermissions['jobs.selftest'] },
    schema: { operationId: 'runSelftest', summary: 'Run the system self-test (job)', tags: ['jobs'], description: 'Runs the system self-test (database, data dir, reachable engines).', response: { 202: JobAccepted } },
  }, async (req, reply) => reply.code(202).send({ job: await jobs.enqueueSelftest(req.actor) }));

  app.get('/jobs/:id', {
    config: read,
    schema: { operationId: 'getJob', summary: 'One job with its steps', tags: ['jobs'], params: IdParam, response: { 200: JobResponse } },
  }, async (req) => ({ job: await jobs.get(req.params.id, req.actor) }));

  app.post('/jobs/:id/cancel', {
    config: { permission: corePermissions['jobs.cancel'] },
    schema: { operationId: 'cancelJob', summary: 'Cancel a job', tags: ['jobs'], params: IdParam, response: { 200: JobResponse } },
  }, async (req) => ({ job: await jobs.cancel(req.params.id, req.actor) }));

  app.get('/jobs/:id/log-lines', {
    config: logs,
    schema: {
      operationId: 'listJobLogLines', summary: 'Page through a job\'s log lines (`after` a seq)',
      tags: ['jobs'],
      params: IdParam,
      querystring: z.object({ after: Seq.default(0), limit: z.coerce.number().int().min(1).max(5000).default(1000) }),
      response: { 200: z.object({ items: z.array(LogLine) }) },
    },
  }, async (req) => ({ items: await jobs.logs(req.params.id, req.actor, req.query.after, req.query.limit) }));

  app.get('/jobs/:id/logs', {
    config: logs,
    schema: {
      operationId: 'followJobLog', summary: 'Follow a job\'s log to its end (SSE)', 'x-sse': 'live-log',
      tags: ['jobs'],
      params: IdParam,
      querystring: z.object({ since: Seq.optional() }),
      description: 'Server-Sent Events (the live-log wire format): `log` {seq, at, stream, line, cursor} (id = seq), `state` {state, job}, `end` {reason: "finished", job}. Resume with Last-Event-ID (or ?since=).',
    },
  }, async (req, reply) => {
    await jobs.assertLogReadable(req.params.id, req.actor);
    // A reconnecting client's Last-Event-ID wins over ?since= (serveLiveLog reads both).
    await serveLiveLog(req, reply, jobLogSource(jobs, req.params.id), { log: deps.log });
  });

  app.get('/jobs/:id/logs/ws', {
    websocket: true,
    config: logs,
    schema: { operationId: 'followJobLogWs', summary: 'Follow a job\'s log to its end (WebSocket)', tags: ['jobs'], description: 'JSON messages in the live-log wire format: `{type: "log" | "state" | "end", …}`; `?since=<seq>` resumes.', params: IdParam, querystring: z.object({ since: Seq.default(0) }) },
    // Checked before the upgrade, so a job the caller may not see answers a plain 404.
    preHandler: async (req) => {
      await jobs.assertLogReadable((req.params as { id: string }).id, req.actor);
    },
  }, (socket, req) => {
    const { id } = req.params as { id: string };
    const { since } = req.query as { since: number };
    void serveLiveLog(req, socket, jobLogSource(jobs, id), { log: deps.log, cursor: String(since) });
  });
}
