import { randomUUID } from 'node:crypto';
import { lstat, mkdir, readFile, realpath, rename, stat, chmod, unlink, writeFile } from 'node:fs/promises';
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

  async writeFile(relativePath: string, content: string | Uint8Array): Promise<number> {
    const absolutePath = await this.resolve(relativePath);
    const folder = path.dirname(absolutePath);
    try {
      await mkdir(folder, { recursive: true });
    } catch (error) {
      throw new StepError(`Could not create the folder for ${JSON.stringify(relativePath)}: ${(error as Error).message}`, { cause: error });
    }
    // A symbolic link could have been swapped in while the folders were created: check again.
    await this.resolve(relativePath);

    const temporaryPath = path.join(folder, `.${path.basename(absolutePath)}.${randomUUID().slice(0, 8)}.tmp`);
    try {
      await writeFile(temporaryPath, content, { flag: 'wx' });
      await keepExistingMode(absolutePath, temporaryPath);
      await rename(temporaryPath, absolutePath);
    } catch (error) {
      await unlink(temporaryPath).catch(() => undefined);
      throw new StepError(`Could not write ${JSON.stringify(relativePath)}: ${(error as Error).message}`, { cause: error, data: { path: relativePath } });
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

/** Whether `candidate` is `folder` or lies inside it (lexically: resolve symbolic links first). */
export function isInside(folder: string, candidate: string): boolean {
  const relative = path.relative(folder, candidate);
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}

/**
 * Where a path really leads: the realpath of its deepest existing part (the path itself if it
 * exists, symbolic links followed) joined with the parts that do not exist yet. `undefined` for a
 * symbolic link whose target is missing, since writing or reading through it would go who knows where.
 */
async function realLocation(absolutePath: string): Promise<string | undefined> {
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

/** A rewrite must not drop the executable bit of a script such as `mvnw`. */
async function keepExistingMode(existingPath: string, replacementPath: string): Promise<void> {
  try {
    const existing = await stat(existingPath);
    if (existing.isFile()) await chmod(replacementPath, existing.mode & 0o7777);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
