// Placeholder until `npx tsx scripts/gen-api-types.ts` regenerates it from the server's OpenAPI document.
export interface paths {}
export type webhooks = Record<string, never>;
export interface components { schemas: {} }
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
