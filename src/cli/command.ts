/**
 * How a command module plugs into the program: `defineAction` gives its handler a CliContext built
 * from the global options, closes it afterwards and records the exit code; `examples` makes the
 * help's Examples section. Each command module exports `register(program, host)`.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { CliContext, type CliIO, type GlobalOptions } from './context.js';

/** What the program gives each command module. */
export interface CommandHost {
  io: CliIO;
  /** The code the process exits with once the command is done. */
  setExitCode(code: number): void;
}

/** A command module: adds its command(s) to the program. */
export type CommandModule = (program: Command, host: CommandHost) => void;

/** The Examples section of a command's --help. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;
}

/**
 * An action for commander: `handler(ctx, options, ...positional arguments)` (a variadic argument is an array); it returns the exit
 * code (0 when it returns nothing) and throws what goes wrong (the program explains it).
 */
export function defineAction<O extends object, A extends Array<string | string[]>>(host: CommandHost, handler: (ctx: CliContext, options: O, ...args: A) => Promise<number | void>) {
  return async (...received: unknown[]): Promise<void> => {
    const command = received.at(-1) as Command;
    const args = received.slice(0, -2) as A;
    const options = command.optsWithGlobals() as O & GlobalOptions;
    const ctx = new CliContext(host.io, options);
    try {
      host.setExitCode((await handler(ctx, options, ...args)) ?? 0);
    } finally {
      await ctx.close();
    }
  };
}

/** A whole number from an option, with the option named when it is not one. */
export function wholeNumber(option: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new InvalidArgumentError(`${option} must be a whole number from ${min} to ${max} (got "${value}").`);
    return n;
  };
}
