import type { Client } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };
export { OPERATIONS } from './operations.js';

/** The id of any operation of the API (`listSites`, `createVps`, `rollbackAppRelease` …). */
export type OperationId = keyof operations;

type JsonOf<R> = R extends { content: { 'application/json': infer D } } ? D : R extends { content: { 'text/csv': infer D } } ? D : unknown;
/** What an operation answers on success (its 200, 201 or 202 JSON body). */
export type OperationData<K extends OperationId> = operations[K] extends { responses: infer R }
  ? R extends { 200: infer A } ? JsonOf<A> : R extends { 201: infer A } ? JsonOf<A> : R extends { 202: infer A } ? JsonOf<A> : unknown
  : unknown;
type ParamsOf<K extends OperationId> = operations[K] extends { parameters: infer P } ? P : never;
/** The input of an operation: path and query parameters, JSON body. */
export interface OperationInput<K extends OperationId> {
  path?: ParamsOf<K> extends { path?: infer P } ? P : never;
  query?: ParamsOf<K> extends { query?: infer Q } ? Q : never;
  body?: operations[K] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
  signal?: AbortSignal;
}

/** The shared error shape of every 4xx/5xx answer. */
export type ApiErrorBody = components['schemas'] extends { Error: infer E } ? E : { error: { code: string; message: string; details?: unknown } };

export declare class SlipwayApiError extends Error {
  constructor(status: number, code: string, message: string, details?: unknown);
  readonly status: number;
  /** The stable machine-readable code (`validation_failed`, `module_unavailable`, `tool_failed` …). */
  readonly code: string;
  readonly details: unknown;
}

export interface SlipwayClientOptions {
  /** The panel's address, e.g. https://panel.example.org (empty: same origin). */
  baseUrl?: string;
  /** An API token (`slw_…`) or an access token; sent as `Authorization: Bearer`, never in a URL. */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  fetch?: (input: Request) => Promise<Response>;
  headers?: Record<string, string>;
}

export type SlipwayClient = Client<paths> & {
  readonly baseUrl: string;
  /** Calls an operation by its operationId; resolves to its data or throws SlipwayApiError. */
  call<K extends OperationId>(operationId: K, input?: OperationInput<K>): Promise<OperationData<K>>;
};

export declare function createSlipwayClient(options?: SlipwayClientOptions): SlipwayClient;
export declare function unwrap<T>(result: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T>;
export declare function errorFromResponse(response: Response, body?: unknown): Promise<SlipwayApiError>;
export declare function signIn(options: { baseUrl: string; username: string; password: string; fetch?: typeof fetch }): Promise<string>;

export interface SseEvent {
  id?: string;
  event: string;
  data: unknown;
}
export declare function readEvents(response: Response): AsyncGenerator<SseEvent, void, void>;

export interface JobLogLine {
  seq: number;
  at?: number;
  stream: string;
  line: string;
  cursor: string;
}
export declare function followJobLog(
  client: SlipwayClient,
  jobId: string,
  options?: { onLine?: (line: JobLogLine) => void; signal?: AbortSignal; maxReconnects?: number },
): Promise<{ reason: string; job?: OperationData<'getJob'> extends { job: infer J } ? J : unknown; message?: string }>;
