import { type SecretBox } from '../../../server/src/sdk.js';

/**
 * Env values at rest, sealed by the platform's secret box for this one purpose
 * (`ctx.secretBox('apps env v1')`): the module never sees the data key.
 */
export class AppSecretsBox {
  constructor(private readonly box: SecretBox) {}

  seal(value: string): string {
    return this.box.seal(value);
  }

  open(sealed: string): string {
    return this.box.open(sealed);
  }

  /** A keyed digest of an app's env (keys and values, sorted): shows that config changed, never what it is. */
  digest(env: Readonly<Record<string, string>>): string {
    return this.box.digest(JSON.stringify(Object.keys(env).sort().map((k) => [k, env[k]])));
  }
}
