/**
 * `GET /artifacts/:id/download`: an artifact's file as an attachment, read from the project's
 * workspace through `Workspace.resolve` (so a path or symbolic link that leads outside is never
 * served). Same token rule as the API, or a signed link for this artifact (`Artifact.downloadUrl`,
 * see download-links.ts), since a link a browser follows cannot set a header. The API token itself
 * is never accepted in the URL.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Services } from '../context.js';
import { Workspace } from '../engine/workspace.js';
import { requestAuthorized } from './token.js';

const ROUTE = /^\/artifacts\/([^/]+)\/download\/?$/;

/** Whether a request path belongs to this module (`/artifacts/…`). */
export function isArtifactPath(pathname: string): boolean {
  return pathname === '/artifacts' || pathname.startsWith('/artifacts/');
}

function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify({ error: message }));
}

/** `attachment; filename="PLAN.md"` with an RFC 5987 form for names that are not plain ASCII. */
export function attachmentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/**
 * Why a download may not proceed (a message for a 401), or null: no token configured, the right
 * `Authorization` header, or a valid signed link for this artifact.
 */
function downloadRefusal(services: Services, req: IncomingMessage, url: URL, artifactId: number): string | null {
  if (requestAuthorized(services.config.apiToken, req)) return null;
  const link = services.artifactLinks.check(artifactId, url.searchParams);
  if (link === 'valid') return null;
  if (link === 'expired') {
    return `This download link has expired (links are valid for ${services.artifactLinks.ttlSeconds} s): reload the page, or ask for Artifact.downloadUrl again.`;
  }
  if (link === 'invalid') return 'This download link is not valid for this artifact: ask for Artifact.downloadUrl, or send "Authorization: Bearer <API_TOKEN>".';
  if (url.searchParams.has('token')) {
    return 'Links with ?token= are no longer accepted (they left the API token in browser history and logs): use the signed link in Artifact.downloadUrl, or send "Authorization: Bearer <API_TOKEN>".';
  }
  return 'Missing or wrong API token: send "Authorization: Bearer <API_TOKEN>", or use the signed link in Artifact.downloadUrl.';
}

/** Handles `/artifacts/…` requests. */
export async function serveArtifactDownload(req: IncomingMessage, res: ServerResponse, services: Services): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const match = ROUTE.exec(url.pathname);
  if (!match) return sendError(res, 404, `Nothing at ${url.pathname}. Artifacts download from /artifacts/<id>/download.`);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return sendError(res, 405, 'Only GET and HEAD are allowed here.', { allow: 'GET, HEAD' });
  }
  const id = match[1]!;
  const validId = /^\d{1,15}$/.test(id) && Number(id) >= 1;
  const refusal = downloadRefusal(services, req, url, validId ? Number(id) : 0);
  if (refusal) return sendError(res, 401, refusal, { 'www-authenticate': 'Bearer' });
  if (!validId) return sendError(res, 404, `No artifact with id ${JSON.stringify(id)}: ids are numbers such as 1.`);

  try {
    const artifact = await services.store.getArtifact(Number(id));
    const run = artifact ? await services.store.getRun(artifact.runId) : null;
    const project = run ? await services.store.getProject(run.projectId) : null;
    if (!artifact || !project) return sendError(res, 404, `No artifact with id ${id}.`);

    let absolute: string;
    try {
      absolute = await new Workspace(project.localPath).resolve(artifact.path);
    } catch {
      return sendError(res, 404, `Artifact ${id} (${artifact.path}) now leads outside the project folder: it is not served.`);
    }
    const info = await stat(absolute).catch(() => null);
    if (!info?.isFile()) return sendError(res, 404, `The file of artifact ${id} (${artifact.path}) is no longer in the project folder ${project.localPath}.`);

    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(info.size),
      'content-disposition': attachmentDisposition(path.basename(artifact.path)),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') return void res.end();
    const stream = createReadStream(absolute);
    stream.on('error', (error) => {
      services.logger.error(`reading artifact ${id} failed`, error);
      res.destroy(error);
    });
    stream.pipe(res);
  } catch (error) {
    services.logger.error(`serving artifact ${id} failed`, error);
    if (!res.headersSent) sendError(res, 500, 'Internal server error: the artifact could not be read. The server log has the details.');
    else res.destroy();
  }
}
