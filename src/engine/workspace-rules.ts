import { realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isInside, realLocation } from './workspace.js';

/**
 * Which folders may be a project's workspace. A run writes whatever a model answers into its
 * workspace, so a workspace must never be a place where a written file changes the system, another
 * user's data, the user's credentials or this server's own database. Every rule is applied to the
 * folder's real location (symbolic links resolved, also in the parts that already exist of a folder
 * still to be created), since a link is how a harmless-looking path leads somewhere else.
 */
export interface WorkspaceRulesOptions {
  /** `WORKSPACE_ROOTS`: when not empty, every workspace must lie below one of these absolute folders. */
  roots: readonly string[];
  /** The home folders to protect (the server user's): neither themselves nor their credential folders. */
  homeFolders: readonly string[];
  /** The server's SQLite file (`:memory:` for none): no workspace may be its folder or contain it. */
  databasePath: string;
}

/** The real location of an acceptable workspace, or why the folder cannot be one. */
export type WorkspaceCheck = { ok: true; realPath: string } | { ok: false; problem: string };

/** The system's own folders: neither they nor anything below them can be a workspace. */
const SYSTEM_FOLDERS = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/run', '/sbin', '/snap', '/sys', '/usr', '/var', '/System', '/Library'];

/**
 * Folders that hold other users' or other programs' folders: not a workspace themselves, but a
 * folder below them is. The temporary folders are also allowed below system folders (`/var/tmp`,
 * and macOS's `/private/var/folders/…`).
 */
const SHARED_FOLDERS = ['/home', '/Users', '/mnt', '/media', '/srv', '/opt', '/Volumes'];
const TEMPORARY_FOLDERS = ['/tmp', '/var/tmp'];

/** Folders in a home folder that hold keys, tokens and passwords. */
export const CREDENTIAL_FOLDERS = [
  '.ssh',
  '.gnupg',
  '.aws',
  '.azure',
  '.kube',
  '.docker',
  '.config',
  '.gcloud',
  '.m2',
  '.password-store',
  '.pki',
  '.terraform.d',
  '.local/share/keyrings',
];

/**
 * Checks a folder (an absolute, normalised path, existing or not) against the workspace rules:
 * not the filesystem's root, not in a system folder (/etc, /usr, /var …, except below a temporary
 * folder), not a shared folder itself (/home, /tmp …), not a home folder or a folder containing one,
 * not in a credential folder (~/.ssh, ~/.aws …), not the database's folder or one containing it, and
 * below one of `roots` when there are roots. Never throws for a path that cannot be resolved: that
 * is a problem too.
 */
export async function checkWorkspaceFolder(folder: string, options: WorkspaceRulesOptions): Promise<WorkspaceCheck> {
  let real: string | undefined;
  try {
    real = await realLocation(folder);
  } catch (error) {
    return { ok: false, problem: `${folder} cannot be resolved (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).` };
  }
  if (real === undefined) return { ok: false, problem: `${folder} leads through a symbolic link whose target does not exist.` };
  const shown = real === folder ? folder : `${folder} (really ${real})`;
  const refuse = (why: string): WorkspaceCheck => ({ ok: false, problem: `${shown} ${why}` });

  if (real === path.parse(real).root) return refuse('is the root of the filesystem: a run could write anywhere.');

  const temporary = await bothForms(TEMPORARY_FOLDERS.concat(tmpdir()));
  for (const shared of await bothForms(SHARED_FOLDERS.concat(temporary))) {
    if (real === shared) return refuse(`is the shared folder ${shared} itself, which holds other users' and programs' folders: use a folder of its own inside it.`);
  }
  if (!temporary.some((folder) => isInside(folder, real))) {
    for (const system of await bothForms(SYSTEM_FOLDERS)) {
      if (isInside(system, real)) return refuse(`is ${real === system ? '' : 'inside '}the system folder ${system}: a run must not change the system.`);
    }
  }

  for (const home of await bothForms(options.homeFolders)) {
    if (isInside(real, home)) {
      return refuse(real === home ? 'is your home folder itself: use a folder of its own inside it, such as ~/projects/NAME.' : `contains your home folder ${home}.`);
    }
    for (const name of CREDENTIAL_FOLDERS) {
      const credentials = path.join(home, name);
      if (isInside(credentials, real)) return refuse(`is ${real === credentials ? '' : 'inside '}${credentials}, which holds credentials.`);
    }
  }

  if (options.databasePath !== ':memory:' && options.databasePath !== '') {
    for (const dataFolder of await bothForms([path.dirname(options.databasePath)])) {
      if (isInside(real, dataFolder)) return refuse(`${real === dataFolder ? 'is' : 'contains'} this server's data folder ${dataFolder} (its database): a run could overwrite it.`);
    }
  }

  if (options.roots.length > 0) {
    const roots = await Promise.all(options.roots.map(async (root) => (await realLocation(root).catch(() => undefined)) ?? root));
    if (!roots.some((root) => real !== root && isInside(root, real))) {
      return refuse(`is not inside WORKSPACE_ROOTS (${options.roots.join(', ')}): this server only takes project folders below those.`);
    }
  }
  return { ok: true, realPath: real };
}

/**
 * Real paths of the folders the rules name, learnt once per process: system, shared and home folders
 * do not move while a server runs, and a run's start checks its folder against some thirty of them.
 */
const realForms = new Map<string, Promise<string | null>>();

/** Each folder as written and, where it exists and differs, as it really is (/tmp → /private/tmp on macOS). */
async function bothForms(folders: readonly string[]): Promise<string[]> {
  const forms = new Set<string>();
  for (const folder of folders) {
    const absolute = path.resolve(folder);
    forms.add(absolute);
    let real = realForms.get(absolute);
    if (!real) {
      real = realpath(absolute).catch(() => null);
      realForms.set(absolute, real);
    }
    const resolved = await real;
    if (resolved) forms.add(resolved);
  }
  return [...forms];
}
