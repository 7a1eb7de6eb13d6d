import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SignedIn, TestApp } from './harness.js';

/**
 * A real resource owned by one user, made by a module's test fixture so the route-access test can
 * prove every route of it answers 404 to another `user` and refuses staff roles beyond their
 * promise, changing nothing.
 */
export interface OwnedResource {
  /** The routes of this resource: route-table URLs starting with this (e.g. `/api/v1/sites/:domain`); a GET of it exactly must answer the owner 200. */
  urlPrefix: string;
  /** The value of each route parameter (`domain`, `id`). */
  params: Record<string, string>;
  /** Query string every call carries (e.g. `{ host: 'local' }`). */
  query?: Record<string, string>;
  /** Bodies routes need to pass validation, by `"METHOD url"` as in the route table (others: none for GET/DELETE, `{}` otherwise). */
  bodies?: Record<string, unknown>;
  /** The resource's state; equal before and after the refused calls. */
  snapshot(): Promise<unknown>;
  /**
   * Owned-only routes of the module outside `urlPrefix` that address no owned resource at all (a
   * shared catalogue, e.g. `GET /api/v1/vps/images/:id`: the permission is owned-only for the VPSes it
   * also guards), by `"METHOD url"`, each with the reason. Every entry must be such a route.
   */
  shared?: Record<string, string>;
}

/** A module's fixture: `modules/<id>/server/test-fixtures/owned-resource.ts` exports `ownedResource`. */
export type OwnedResourceFixture = (t: TestApp, owner: SignedIn) => Promise<OwnedResource>;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where a module's fixture lives (one place, so the route-access test finds every module's). */
export function ownedResourceFixturePath(moduleId: string): string {
  return path.join(repoRoot, 'modules', moduleId, 'server', 'test-fixtures', 'owned-resource.ts');
}

/** The module's fixture, or null when it has none (the route-access test reports it as skipped). */
export async function loadOwnedResourceFixture(moduleId: string): Promise<OwnedResourceFixture | null> {
  const file = ownedResourceFixturePath(moduleId);
  if (!existsSync(file)) return null;
  const mod = (await import(pathToFileURL(file).href)) as { ownedResource?: OwnedResourceFixture };
  if (typeof mod.ownedResource !== 'function') throw new Error(`${file} must export ownedResource(t, owner)`);
  return mod.ownedResource;
}
