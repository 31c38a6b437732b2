/** Small text formats shared by the commands: durations, sizes, times and aligned columns. */
import stripAnsi from 'strip-ansi';

/** 0.4s, 12.3s, 2m 05s, 1h 02m. */
export function formatDuration(ms: number): string {
  const safe = Math.max(0, ms);
  if (safe < 60_000) return `${(Math.floor(safe / 100) / 10).toFixed(1)}s`;
  const totalSeconds = Math.floor(safe / 1000);
  if (totalSeconds < 3600) return `${Math.floor(totalSeconds / 60)}m ${String(totalSeconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(totalSeconds / 3600)}h ${String(Math.floor(totalSeconds / 60) % 60).padStart(2, '0')}m`;
}

/** 812 B, 12.3 KB, 4.0 MB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const two = (n: number) => String(n).padStart(2, '0');

/** An ISO time as local `YYYY-MM-DD HH:MM:SS`. */
export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${formatTime(iso)}`;
}

/** An ISO time as local `HH:MM:SS`. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Rows under a header, each column as wide as its widest cell, two spaces apart. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** How long between two ISO times (or until now), or '' before the start. */
export function elapsed(startIso: string | null | undefined, endIso: string | null | undefined, now = Date.now()): string {
  if (!startIso) return '';
  return formatDuration((endIso ? Date.parse(endIso) : now) - Date.parse(startIso));
}

/** C0 and C1 control characters other than tab and newline, and DEL. */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text from the server (model output, command output, names) made safe to print: escape sequences
 * removed (a command's colours, or a model's attempt to move the cursor or retitle the terminal),
 * then every other control character but tab and newline; carriage returns end lines.
 */
export function printable(text: string): string {
  return stripAnsi(text).replace(/\r\n?/g, '\n').replace(CONTROL_CHARACTERS, '');
}
