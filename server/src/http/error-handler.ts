import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { ZodError } from 'zod';
import { ExecError } from '../infra/exec-error.js';
import { AppError, RateLimitedError, UnavailableError } from '../platform/errors.js';

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** The one place where errors become HTTP status codes. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const send = (status: number, code: string, message: string, details?: unknown) => {
      const body: ErrorBody = { error: { code, message, ...(details === undefined ? {} : { details }) } };
      return reply.code(status).send(body);
    };

    if (err instanceof AppError) {
      if (err instanceof RateLimitedError) reply.header('retry-after', String(err.retryAfterSeconds));
      if (err instanceof UnavailableError && err.retryAfterSeconds) reply.header('retry-after', String(err.retryAfterSeconds));
      if (err.status >= 500) req.log.error({ err }, err.message);
      return send(err.status, err.code, err.message, err.details);
    }
    if (err instanceof ExecError) {
      // A tool the panel drives failed: say which, where and why, in words (the full stderr stays in the log).
      const details = { program: err.program, host: err.host, exitCode: err.exitCode };
      req.log.warn({ err, argv: err.argv, stderr: err.stderr.slice(-2000) }, 'tool failed');
      if (err.isMissingProgram) return send(503, 'tool_unavailable', `${err.userReason}`, details);
      if (err.reason === 'timeout') return send(503, 'tool_timeout', `${err.userReason}`, details);
      return send(502, 'tool_failed', `${err.program} failed${err.host === 'local' ? '' : ` on ${err.host}`}: ${err.userReason}`, { ...details, reason: err.userReason });
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.map((v) => ({
        path: `${err.validationContext ?? 'body'}${v.instancePath.replaceAll('/', '.')}`,
        message: v.message ?? 'invalid',
      }));
      return send(400, 'validation_failed', describeIssues(issues), { issues });
    }
    if (err instanceof ZodError) {
      const issues = err.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      return send(400, 'validation_failed', describeIssues(issues), { issues });
    }
    if (isResponseSerializationError(err)) {
      req.log.error({ err, cause: err.cause }, 'response did not match its schema');
      return send(500, 'internal', 'Internal server error');
    }
    const fe = err as FastifyError;
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      if (fe.statusCode === 429) return send(429, 'rate_limited', fe.message);
      const code = fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported_media_type'
        : fe.code?.startsWith('FST_ERR_CTP') || fe.validation ? 'validation_failed' : 'bad_request';
      return send(fe.statusCode, code, fe.message);
    }
    req.log.error({ err }, 'unhandled error');
    return send(500, 'internal', 'Internal server error');
  });

  app.setNotFoundHandler((req, reply) => {
    const body: ErrorBody = { error: { code: 'not_found', message: `No route ${req.method} ${req.url.split('?')[0]}` } };
    return reply.code(404).send(body);
  });
}

function describeIssues(issues: { path: string; message: string }[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('; ') || 'Invalid request';
}
