import { mkdir, mkdtemp, rmdir, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import { DuplicateProjectNameError, type SqlStore } from '../db/store.js';
import type { ProjectRecord } from '../engine/types.js';
import { badInput, conflict } from '../errors.js';

export const MAX_NAME_LENGTH = 200;
export const MAX_PATH_LENGTH = 4096;

/**
 * Creates a project after checking its folder: an absolute path to a folder this server can write
 * (created if missing, as the seed did). Nothing is written when a check fails.
 */
export async function createProject(store: SqlStore, rawName: string, rawPath: string): Promise<ProjectRecord> {
  const name = rawName.trim();
  if (name === '') throw badInput('Argument "name" must not be empty.');
  if (name.length > MAX_NAME_LENGTH) throw badInput(`Argument "name" is too long (${name.length} characters; at most ${MAX_NAME_LENGTH}).`);
  if (rawPath.length > MAX_PATH_LENGTH) throw badInput(`Argument "localPath" is too long (at most ${MAX_PATH_LENGTH} characters).`);
  if (rawPath.includes('\0')) throw badInput('Argument "localPath" must not contain NUL characters.');
  if (!isAbsolute(rawPath)) {
    throw badInput(`Argument "localPath" must be an absolute path (such as /home/me/projects/${name}); got "${rawPath}".`);
  }
  const localPath = normalize(rawPath).replace(/(.)\/+$/, '$1');

  if (await store.findProjectByName(name)) throw conflict(`A project named "${name}" already exists: choose another name.`);

  const existing = await stat(localPath).catch(() => null);
  if (existing && !existing.isDirectory()) throw badInput(`Argument "localPath": ${localPath} exists and is not a folder.`);
  if (existing) {
    const problem = await cannotWrite(localPath);
    if (problem) throw badInput(`Argument "localPath": the folder ${localPath} cannot be written by this server (${problem}). Fix its permissions or choose another folder.`);
  } else {
    const parentProblem = await firstUnwritableAncestor(localPath);
    if (parentProblem) throw badInput(`Argument "localPath": ${localPath} cannot be created: ${parentProblem}`);
  }

  let project: ProjectRecord;
  try {
    project = await store.createProject(name, localPath);
  } catch (error) {
    if (error instanceof DuplicateProjectNameError) throw conflict(`A project named "${name}" already exists: choose another name.`);
    throw error;
  }
  if (!existing) {
    // Only after the record is safely stored, so a refused project leaves no folder behind.
    await mkdir(localPath, { recursive: true });
  }
  return project;
}

/** Why a missing folder could not be created, or null if it can be. */
async function firstUnwritableAncestor(path: string): Promise<string | null> {
  let current = path;
  for (;;) {
    const parent = normalize(`${current}/..`);
    if (parent === current) return 'no part of the path exists';
    const info = await stat(parent).catch(() => null);
    if (info) {
      if (!info.isDirectory()) return `${parent} is a file, not a folder.`;
      const problem = await cannotWrite(parent);
      return problem ? `the folder ${parent} cannot be written by this server (${problem}).` : null;
    }
    current = parent;
  }
}

/**
 * Why nothing can be created in a folder, or null if something can. Tried for real (a temporary
 * folder made and removed at once) because permission bits say nothing for root or read-only mounts.
 */
async function cannotWrite(folder: string): Promise<string | null> {
  try {
    const probe = await mkdtemp(join(folder, '.agent-runner-write-check-'));
    await rmdir(probe);
    return null;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}
