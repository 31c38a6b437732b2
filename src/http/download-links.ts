/**
 * Signed download links: `/artifacts/<id>/download?expires=<unix s>&signature=<base64url>`, valid for
 * one artifact until `expires`, so a browser can follow a link without the API token in its URL (where
 * it would stay in the history, in proxies' and servers' logs, and in Referer headers).
 *
 * The signature is HMAC-SHA256 over `<id>.<expires>` with a key derived from API_TOKEN (HKDF-SHA256,
 * its own `info`, so the key is never the token itself): links survive a restart, every server sharing
 * the token accepts them, and changing the token invalidates all of them. Without API_TOKEN downloads
 * need no proof at all; links are still made (with a random key per process) so clients need no
 * second code path.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a link's `expires` and `signature` prove: nothing, a valid link, or one that was valid. */
export type LinkCheck = 'valid' | 'expired' | 'invalid' | 'absent';

export class ArtifactLinks {
  private readonly key: Buffer;

  /**
   * @param apiToken the server's API_TOKEN (the key is derived from it), or null for a random key.
   * @param ttlSeconds how long a new link stays valid (ARTIFACT_LINK_TTL_SECONDS).
   * @param nowMs the clock, in ms since the epoch (tests pass their own).
   */
  constructor(
    apiToken: string | null,
    readonly ttlSeconds: number,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.key = apiToken ? Buffer.from(hkdfSync('sha256', apiToken, 'agent-runner', 'artifact download links v1', 32)) : randomBytes(32);
  }

  private sign(artifactId: number, expires: number): Buffer {
    return createHmac('sha256', this.key).update(`${artifactId}.${expires}`).digest();
  }

  /** A path (relative to the server's base URL) that downloads the artifact until ttlSeconds from now. */
  pathFor(artifactId: number): string {
    const expires = Math.floor(this.nowMs() / 1000) + this.ttlSeconds;
    return `/artifacts/${artifactId}/download?expires=${expires}&signature=${this.sign(artifactId, expires).toString('base64url')}`;
  }

  /** Checks a download request's `expires` and `signature` query parameters for this artifact. */
  check(artifactId: number, params: URLSearchParams): LinkCheck {
    const expiresText = params.get('expires');
    const signatureText = params.get('signature');
    if (expiresText === null && signatureText === null) return 'absent';
    if (!expiresText || !signatureText || !/^\d{1,12}$/.test(expiresText)) return 'invalid';
    const expected = this.sign(artifactId, Number(expiresText));
    const presented = Buffer.from(signatureText, 'base64url');
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return 'invalid';
    return Number(expiresText) * 1000 >= this.nowMs() ? 'valid' : 'expired';
  }
}
