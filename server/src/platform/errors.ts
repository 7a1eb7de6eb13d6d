/**
 * Domain errors. Services throw these; `http/error-handler.ts` is the only place that turns
 * them into HTTP responses (`{ error: { code, message, details } }`).
 */
export abstract class AppError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  constructor(message: string, readonly details?: unknown) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  readonly status = 400;
  readonly code = 'validation_failed';
}
export class UnauthorizedError extends AppError {
  readonly status = 401;
  readonly code: string;
  constructor(message = 'Authentication required', code = 'unauthorized', details?: unknown) {
    super(message, details);
    this.code = code;
  }
}
export class ForbiddenError extends AppError {
  readonly status = 403;
  readonly code: string;
  constructor(message = 'You do not have permission to do this', code = 'forbidden', details?: unknown) {
    super(message, details);
    this.code = code;
  }
}
export class NotFoundError extends AppError {
  readonly status = 404;
  readonly code = 'not_found';
  constructor(what: string, id?: string) {
    super(id === undefined ? `${what} not found` : `${what} '${id}' not found`);
  }
}
export class ConflictError extends AppError {
  readonly status = 409;
  readonly code = 'conflict';
}
/** A request that is well-formed but breaks a domain rule (422). */
export class DomainRuleError extends AppError {
  readonly status = 422;
  readonly code: string;
  constructor(message: string, code = 'rule_violated', details?: unknown) {
    super(message, details);
    this.code = code;
  }
}
/** The request body is over a limit (413); `details` names the limit. */
export class PayloadTooLargeError extends AppError {
  readonly status = 413;
  readonly code = 'payload_too_large';
}
/** The request body is not of a type the route takes (415). */
export class UnsupportedMediaTypeError extends AppError {
  readonly status = 415;
  readonly code = 'unsupported_media_type';
}
/**
 * Content that arrived whole but is refused for what it is (400 with its own code), e.g. an
 * upload that is not a disk image the panel accepts; nothing of it is kept.
 */
export class ContentRejectedError extends AppError {
  readonly status = 400;
  readonly code: string;
  constructor(message: string, code = 'content_rejected', details?: unknown) {
    super(message, details);
    this.code = code;
  }
}
export class RateLimitedError extends AppError {
  readonly status = 429;
  readonly code = 'rate_limited';
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message, { retryAfterSeconds });
  }
}
export class UnavailableError extends AppError {
  readonly status = 503;
  readonly code = 'unavailable';
  constructor(message: string, readonly retryAfterSeconds?: number, details?: unknown) {
    super(message, details);
  }
}

/** A module whose required engine is missing: its routes answer this until the engine appears. */
export class ModuleUnavailableError extends AppError {
  readonly status = 503;
  readonly code = 'module_unavailable';
  constructor(message: string, details: { module: string; fix: string | null }) {
    super(message, details);
  }
}
