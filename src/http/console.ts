/**
 * The web console: serving its build (console/dist) at `/`, and building it with Vite's JS API when
 * the build is missing or older than its sources, so `npm install && npm start` works on a fresh
 * clone.
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The console's Vite root: console/ of this repository. */
export const CONSOLE_ROOT = fileURLToPath(new URL('../../console', import.meta.url));
/**
 * The generated typed documents the console imports: a change there means a rebuild. The sources'
 * folder, also when this module runs compiled from dist/http (as under `npm start`).
 */
const GENERATED_CLIENT = fileURLToPath(new URL('../../src/client/generated', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

function contentType(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

function isInside(folder: string, candidate: string): boolean {
  const relative = path.relative(folder, candidate);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agent-runner</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5">
<h1>The web console is not built</h1>
<p><code>npm start</code> builds it before listening; when the server was started another way, build it with
<code>npm run build:console</code> and reload this page.</p>
<p>The GraphQL API and GraphiQL are at <a href="/graphql">/graphql</a>.</p>
</body></html>`;

async function fileAt(file: string) {
  const info = await stat(file).catch(() => null);
  return info?.isFile() ? info : null;
}

function sendFile(req: IncomingMessage, res: ServerResponse, file: string, size: number, cacheControl: string): void {
  res.writeHead(200, {
    'content-type': contentType(file),
    'content-length': String(size),
    'cache-control': cacheControl,
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(file)
    .on('error', (error) => res.destroy(error))
    .pipe(res);
}

/**
 * Serves a GET or HEAD request from the console's build in `distDir`: a file that exists there
 * (hashed assets are cached for a year), else `index.html` for page paths (no extension) so the
 * console's own routes such as /runs/12 load the app. Calls `next()` for anything else (a missing
 * asset, a non-page path), so the caller answers 404. Paths never leave `distDir`.
 */
export async function serveConsole(req: IncomingMessage, res: ServerResponse, distDir: string, next: () => void): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let pathname: string;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      return next();
    }
    if (pathname.includes('\0')) return next();
    const root = path.resolve(distDir);
    const index = path.join(root, 'index.html');
    const indexInfo = await fileAt(index);

    if (pathname !== '/' && pathname !== '/index.html') {
      const candidate = path.resolve(root, `.${path.posix.normalize(pathname)}`);
      if (!isInside(root, candidate)) return next();
      const info = await fileAt(candidate);
      if (info) {
        // A symbolic link inside the build could point anywhere: serve only what really lies inside it.
        const [realRoot, realFile] = await Promise.all([realpath(root), realpath(candidate)]);
        if (!isInside(realRoot, realFile)) return next();
        const immutable = pathname.startsWith('/assets/');
        return sendFile(req, res, candidate, info.size, immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      }
      const lastSegment = pathname.split('/').pop() ?? '';
      const wantsPage = (req.headers.accept ?? '').includes('text/html');
      if (lastSegment.includes('.') || !wantsPage) return next();
    }

    if (!indexInfo) {
      if (pathname !== '/' && pathname !== '/index.html') return next();
      res.writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      return void res.end(req.method === 'HEAD' ? undefined : NOT_BUILT_PAGE);
    }
    sendFile(req, res, index, indexInfo.size, 'no-cache');
  } catch (error) {
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`The console could not be served: ${(error as Error).message}`);
    } else {
      res.destroy();
    }
  }
}

/** Newest modification time (ms) of the files under `target` (a file or a folder); 0 if none. */
async function newestMtime(target: string): Promise<number> {
  const info = await stat(target).catch(() => null);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = 0;
  for (const entry of await readdir(target, { withFileTypes: true })) {
    newest = Math.max(newest, await newestMtime(path.join(target, entry.name)));
  }
  return newest;
}

export interface ConsoleBuildOptions {
  /** The console's Vite root (console/ of this repository). */
  root?: string;
  /** Where the build goes (console/dist). */
  outDir?: string;
  /** Build even when the build looks fresh (false). */
  force?: boolean;
  /** Progress lines (none). */
  log?: (line: string) => void;
}

/**
 * Why the build in `outDir` must be (re)made — missing, or older than a file of console/src,
 * console/index.html, console/vite.config.ts or src/client/generated — or null when it is fresh.
 */
export async function consoleBuildStaleness(root = CONSOLE_ROOT, outDir = path.join(root, 'dist')): Promise<string | null> {
  const built = await fileAt(path.join(outDir, 'index.html'));
  if (!built) return 'no build yet';
  const sources = [path.join(root, 'src'), path.join(root, 'index.html'), path.join(root, 'vite.config.ts'), GENERATED_CLIENT];
  for (const source of sources) {
    if ((await newestMtime(source)) > built.mtimeMs) return `${path.relative(process.cwd(), source) || source} changed since the last build`;
  }
  return null;
}

/**
 * Builds the console with Vite when its build is missing or stale (see `consoleBuildStaleness`).
 * Resolves with what it did. Vite is loaded only when a build is needed.
 */
export async function ensureConsoleBuilt(options: ConsoleBuildOptions = {}): Promise<'fresh' | 'built'> {
  const root = options.root ?? CONSOLE_ROOT;
  const outDir = path.resolve(options.outDir ?? path.join(root, 'dist'));
  const reason = options.force ? 'asked to' : await consoleBuildStaleness(root, outDir);
  if (!reason) return 'fresh';
  options.log?.(`Building the web console (${reason}) …`);
  const started = Date.now();
  // In a process of its own: Vite loaded into the server would keep ~150 MB of it for good.
  const vite = path.join(path.dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  await execFileAsync(process.execPath, [vite, 'build', root, '--config', path.join(root, 'vite.config.ts'), '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], {
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(error.stderr?.trim() || error.message);
  });
  options.log?.(`Built the web console into ${outDir} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return 'built';
}
