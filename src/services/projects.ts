import { mkdir, mkdtemp, rmdir, stat } from 'node:fs/promises';
import { ConfigError, normalizeLabels } from '../config.js';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import type { Services } from '../context.js';
import { DuplicateProjectNameError, type SqlStore } from '../db/store.js';
import { realLocation } from '../engine/workspace.js';
import { checkWorkspaceFolder, type WorkspaceRulesOptions } from '../engine/workspace-rules.js';
import type { ProjectRecord } from '../engine/types.js';
import { badInput, conflict } from '../errors.js';

export const MAX_NAME_LENGTH = 200;
export const MAX_PATH_LENGTH = 4096;
/** The longest file or folder name Linux and macOS file systems take, in bytes (NAME_MAX). */
export const MAX_PATH_COMPONENT_BYTES = 255;

// Control characters (NUL, newlines, escapes) in a name would break logs, the console and the database driver.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** The workspace rules in force on this server (see workspace-rules.ts). */
export function workspaceRulesOf(config: Services['config']): WorkspaceRulesOptions {
  return { roots: config.workspaceRoots, homeFolders: config.homeFolders, databasePath: config.databasePath };
}

/** createProject calls of one store, one at a time: two of them must not both take the same folder. */
const creating = new WeakMap<SqlStore, Promise<unknown>>();

/**
 * Creates a project after checking its name and folder: an absolute path to a folder this server
 * can write (created if missing, as the seed did) that the workspace rules allow (workspace-rules.ts:
 * no system, home, credential or database folder; below WORKSPACE_ROOTS when set) and that no other
 * project already uses (compared by real location). With several instances, only an instance that has
 * every one of `requiredLabels` checks the folder (it is on a machine where the project's runs execute).
 * Nothing is written when a check fails: no
 * project record and no folder. Errors: BAD_USER_INPUT (the name or the folder), CONFLICT (the name
 * or the folder is another project's).
 */
export async function createProject(services: Pick<Services, 'store' | 'config'>, rawName: string, rawPath: string, rawLabels: readonly string[] = []): Promise<ProjectRecord> {
  const requiredLabels = checkLabels(rawLabels, 'requiredLabels');
  const name = rawName.trim();
  if (name === '') throw badInput('Argument "name" must not be empty.');
  if (name.length > MAX_NAME_LENGTH) throw badInput(`Argument "name" is too long (${name.length} characters; at most ${MAX_NAME_LENGTH}).`);
  if (CONTROL_CHARACTER.test(name)) throw badInput('Argument "name" must not contain control characters (NUL, line breaks, tabs, escapes).');
  if (rawPath.length > MAX_PATH_LENGTH) throw badInput(`Argument "localPath" is too long (at most ${MAX_PATH_LENGTH} characters).`);
  if (rawPath.includes('\0')) throw badInput('Argument "localPath" must not contain NUL characters.');
  if (!isAbsolute(rawPath)) {
    throw badInput(`Argument "localPath" must be an absolute path (such as /home/me/projects/${name}); got "${rawPath}".`);
  }
  const localPath = normalize(rawPath).replace(/(.)\/+$/, '$1');
  const longPart = localPath.split('/').find((part) => Buffer.byteLength(part) > MAX_PATH_COMPONENT_BYTES);
  if (longPart !== undefined) {
    throw badInput(`Argument "localPath": the folder name "${longPart.slice(0, 40)}…" is ${Buffer.byteLength(longPart)} bytes long; file systems take at most ${MAX_PATH_COMPONENT_BYTES}.`);
  }

  const { store } = services;
  const previous = creating.get(store) ?? Promise.resolve();
  const created = previous.catch(() => undefined).then(() => createChecked(services, name, localPath, requiredLabels));
  creating.set(store, created);
  return created;
}

/** Placement labels from an API argument, checked and sorted; BAD_USER_INPUT naming `argument` otherwise. */
export function checkLabels(labels: readonly string[], argument: string): string[] {
  try {
    return normalizeLabels(labels.map((l) => l.trim()), `Argument "${argument}"`);
  } catch (error) {
    if (error instanceof ConfigError) throw badInput(error.message);
    throw error;
  }
}

async function createChecked(services: Pick<Services, 'store' | 'config'>, name: string, localPath: string, requiredLabels: string[]): Promise<ProjectRecord> {
  const { store, config } = services;
  if (await store.findProjectByName(name)) throw conflict(`A project named "${name}" already exists: choose another name.`);
  // With several instances, the folder is checked (and made) on a machine whose instances may run the
  // project's runs: one with all its labels. Another machine may not have the folder, or have another one there.
  const missing = config.databaseUrl ? requiredLabels.filter((label) => !config.workerLabels.includes(label)) : [];
  if (missing.length > 0) {
    throw badInput(
      `Argument "requiredLabels": this instance (${config.instanceId}) lacks ${missing.join(', ')}, so its machine is not one where this project's runs execute, and it cannot check the folder there. Send createProject to an instance whose WORKER_LABELS include ${requiredLabels.join(', ')}.`,
    );
  }

  const check = await checkWorkspaceFolder(localPath, workspaceRulesOf(config));
  if (!check.ok) throw badInput(`Argument "localPath": ${check.problem} Choose another folder.`);

  const existing = await stat(localPath).catch(() => null);
  if (existing && !existing.isDirectory()) throw badInput(`Argument "localPath": ${localPath} exists and is not a folder.`);
  if (existing) {
    const problem = await cannotWrite(localPath);
    if (problem) throw badInput(`Argument "localPath": the folder ${localPath} cannot be written by this server (${problem}). Fix its permissions or choose another folder.`);
  } else {
    const parentProblem = await firstUnwritableAncestor(localPath);
    if (parentProblem) throw badInput(`Argument "localPath": ${localPath} cannot be created: ${parentProblem}`);
  }

  const owner = await projectInFolder(store, check.realPath);
  if (owner) {
    throw conflict(`Argument "localPath": the folder ${localPath} is already the workspace of project "${owner.name}" (id ${owner.id}): two projects in one folder would overwrite each other's files. Choose another folder.`);
  }

  let madeFolder: string | undefined;
  if (!existing) {
    try {
      madeFolder = await mkdir(localPath, { recursive: true });
    } catch (error) {
      throw badInput(`Argument "localPath": ${localPath} cannot be created (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). Choose another folder.`);
    }
  }
  try {
    return await store.createProject(name, localPath, requiredLabels);
  } catch (error) {
    if (madeFolder !== undefined) await removeMadeFolders(localPath, madeFolder);
    if (error instanceof DuplicateProjectNameError) throw conflict(`A project named "${name}" already exists: choose another name.`);
    throw error;
  }
}

/** The project whose folder really is `realPath`, if any (links followed, as they are now). */
async function projectInFolder(store: SqlStore, realPath: string): Promise<ProjectRecord | null> {
  for (const project of await store.listProjects()) {
    const real = await realLocation(project.localPath).catch(() => undefined);
    if (real === realPath || project.localPath === realPath) return project;
  }
  return null;
}

/** Removes the empty folders `mkdir -p` made, from `path` up to the first one it made. */
async function removeMadeFolders(path: string, firstMade: string): Promise<void> {
  for (let current = path; ; current = dirname(current)) {
    const removed = await rmdir(current).then(
      () => true,
      () => false,
    );
    if (!removed || current === firstMade || dirname(current) === current) return;
  }
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
