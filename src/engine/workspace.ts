import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, readlink, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { StepError, type WorkspaceFiles } from './types.js';

/**
 * File access confined to one project folder. Every path is checked twice: lexically (no absolute
 * path, no `..` that climbs out) and on disk (the real location of the deepest part that exists,
 * symbolic links resolved, must lie inside the real project folder).
 */
export class Workspace implements WorkspaceFiles {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  async resolve(relativePath: string): Promise<string> {
    const absolutePath = this.resolveLexically(relativePath);
    const realRoot = await realLocation(this.root);
    const realTarget = await realLocation(absolutePath);
    if (realTarget === undefined || realRoot === undefined || !isInside(realRoot, realTarget)) {
      throw this.refuseOutside(relativePath, 'through a symbolic link');
    }
    return absolutePath;
  }

  /**
   * Writes a file whole (a temporary file renamed over it) without following a symbolic link out of
   * the project folder, even one swapped in while it writes: each folder on the way is opened and
   * held open, its real location checked to lie inside the project folder, and the next step is
   * taken inside that open folder (through /proc/self/fd where there is one), so the temporary file
   * is created (O_CREAT | O_EXCL | O_NOFOLLOW) and renamed in a folder that was checked, and removed
   * there on every failure. Missing folders are created the same way, one at a time. Returns the
   * bytes written; throws StepError.
   */
  async writeFile(relativePath: string, content: string | Uint8Array): Promise<number> {
    const absolutePath = await this.resolve(relativePath);
    const parts = path.relative(this.root, absolutePath).split(path.sep);
    const name = parts.pop()!;
    let folder: OpenFolder;
    try {
      folder = await openFolder(this.root).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
        await mkdir(this.root, { recursive: true });
        return openFolder(this.root);
      });
    } catch (error) {
      throw new StepError(`Could not open the project folder ${this.root}: ${(error as Error).message}`, { cause: error });
    }
    const realRoot = folder.real;
    try {
      for (const part of parts) {
        const next = path.join(folder.path, part);
        let child: OpenFolder;
        try {
          child = await openFolder(next).catch(async (error: NodeJS.ErrnoException) => {
            if (error.code !== 'ENOENT') throw error;
            // Made in the open parent; if a link took its place meanwhile, it is opened and checked like any.
            await mkdir(next).catch((made: NodeJS.ErrnoException) => {
              if (made.code !== 'EEXIST') throw made;
            });
            return openFolder(next);
          });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ELOOP') {
            throw this.refuseOutside(relativePath, 'through a symbolic link');
          }
          throw new StepError(`Could not create the folder for ${JSON.stringify(relativePath)}: ${(error as Error).message}`, { cause: error });
        }
        await folder.close();
        folder = child;
        if (!isInside(realRoot, folder.real)) throw this.refuseOutside(relativePath, 'through a symbolic link');
      }
      await writeInFolder(folder, name, content).catch((error: unknown) => {
        throw new StepError(`Could not write ${JSON.stringify(relativePath)}: ${(error as Error).message}`, { cause: error, data: { path: relativePath } });
      });
    } finally {
      await folder.close();
    }
    return typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
  }

  async readFile(relativePath: string): Promise<string> {
    const absolutePath = await this.resolve(relativePath);
    try {
      return await readFile(absolutePath, 'utf8');
    } catch (error) {
      throw new StepError(`Could not read ${JSON.stringify(relativePath)}: ${(error as Error).message}`, { cause: error, data: { path: relativePath } });
    }
  }

  private resolveLexically(relativePath: string): string {
    if (typeof relativePath !== 'string' || relativePath.trim() === '') {
      throw refuse('Refused an empty path: a file path relative to the project folder is required', relativePath);
    }
    if (relativePath.includes('\0')) {
      throw refuse(`Refused path ${JSON.stringify(relativePath)}: it contains a NUL byte`, relativePath);
    }
    if (path.isAbsolute(relativePath)) {
      throw refuse(`Refused absolute path ${JSON.stringify(relativePath)}: paths must be relative to the project folder`, relativePath);
    }
    const absolutePath = path.resolve(this.root, relativePath);
    if (absolutePath === this.root) {
      throw refuse(`Refused path ${JSON.stringify(relativePath)}: it names the project folder itself, not a file in it`, relativePath);
    }
    if (!isInside(this.root, absolutePath)) throw this.refuseOutside(relativePath);
    return absolutePath;
  }

  private refuseOutside(relativePath: string, how?: string): StepError {
    const suffix = how === undefined ? '' : ` (${how})`;
    return refuse(`Refused path ${JSON.stringify(relativePath)}: it leads outside the project folder ${this.root}${suffix}`, relativePath);
  }
}

function refuse(message: string, relativePath: unknown): StepError {
  return new StepError(message, { retryable: false, data: { path: relativePath } });
}

/** Whether `candidate` is `folder` or lies below it (both absolute and normalised; compared as written). */
export function isInside(folder: string, candidate: string): boolean {
  const relative = path.relative(folder, candidate);
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}

/**
 * Where a path really leads: the realpath of its deepest existing part (the path itself if it
 * exists, symbolic links followed) joined with the parts that do not exist yet. `undefined` for a
 * symbolic link whose target is missing, since writing or reading through it would go who knows where.
 */
export async function realLocation(absolutePath: string): Promise<string | undefined> {
  const missingParts: string[] = [];
  let existing = absolutePath;
  for (;;) {
    try {
      await lstat(existing);
      break;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const parent = path.dirname(existing);
      if (parent === existing) break;
      missingParts.unshift(path.basename(existing));
      existing = parent;
    }
  }
  try {
    return path.join(await realpath(existing), ...missingParts);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * A folder held open. `path` names exactly that folder for as long as it is open, wherever it is
 * moved and whatever link replaces the path it was opened by (`/proc/self/fd/N` on Linux; elsewhere
 * its real path at opening, which a swap can still change); `real` is its real location.
 */
interface OpenFolder {
  path: string;
  real: string;
  close(): Promise<void>;
}

/** Whether /proc/self/fd names open folders here (Linux with /proc mounted); learnt at the first use. */
let procFdWorks: boolean | undefined;

async function openFolder(folderPath: string): Promise<OpenFolder> {
  const handle = await open(folderPath, constants.O_RDONLY | constants.O_DIRECTORY);
  const close = () => handle.close();
  try {
    if (procFdWorks !== false && process.platform === 'linux') {
      const byFd = `/proc/self/fd/${handle.fd}`;
      try {
        const real = await readlink(byFd);
        procFdWorks = true;
        return { path: byFd, real, close };
      } catch (error) {
        if (procFdWorks === true) throw error;
        procFdWorks = false;
      }
    }
    const real = await realpath(folderPath);
    const [opened, named] = await Promise.all([handle.stat(), stat(real)]);
    if (opened.ino !== named.ino || opened.dev !== named.dev) throw Object.assign(new Error(`${folderPath} changed while it was opened`), { code: 'ELOOP' });
    return { path: real, real, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The temporary file created in `folder` (never through a link), renamed over `name`, removed on any failure. */
async function writeInFolder(folder: OpenFolder, name: string, content: string | Uint8Array): Promise<void> {
  const target = path.join(folder.path, name);
  const temporary = path.join(folder.path, `.${name}.${randomUUID().slice(0, 8)}.tmp`);
  try {
    const file = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666);
    try {
      await file.writeFile(content);
      await keepExistingMode(target, file);
    } finally {
      await file.close();
    }
    await rename(temporary, target);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** A rewrite must not drop the executable bit of a script such as `mvnw` (a link in its place is replaced, not followed). */
async function keepExistingMode(existingPath: string, replacement: FileHandle): Promise<void> {
  try {
    const existing = await lstat(existingPath);
    if (existing.isFile()) await replacement.chmod(existing.mode & 0o7777);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
