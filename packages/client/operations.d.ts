import type { operations } from './schema.js';

/** Every operation of the API by its operationId: HTTP method and path (generated). */
export declare const OPERATIONS: { readonly [K in keyof operations]: { readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH'; readonly path: string } };
