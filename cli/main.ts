/**
 * `datasphere-runner`: the command line of the runner service (design.md §8). `runCli` takes the
 * arguments and everything it touches outside itself (CliIo), and answers the exit code; it never
 * throws and never prints a stack trace.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { closest, commandHelp, PROGRAM, parseCommandLine, programHelp, UsageError } from './arguments.ts';
import { abortableSleep, type CliIo } from './cli-io.ts';
import { type Command, createCommandContext } from './command-context.ts';
import { cancelCommand } from './commands/cancel.ts';
import { jobsCommand } from './commands/jobs.ts';
import { listCommand } from './commands/list.ts';
import { openCommand } from './commands/open.ts';
import { runCommand } from './commands/run.ts';
import { statusCommand } from './commands/status.ts';
import { watchCommand } from './commands/watch.ts';
import { reportError } from './error-report.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { createStyle } from './terminal-style.ts';

export const COMMANDS: readonly Command[] = [
  runCommand,
  openCommand,
  statusCommand,
  watchCommand,
  cancelCommand,
  listCommand,
  jobsCommand,
];

/** Set by the launcher when it compiles the CLI (esbuild `define`); absent when run from source. */
declare const __CLI_VERSION__: string | undefined;

/** The package's version. */
function version(): string {
  if (typeof __CLI_VERSION__ === 'string') return __CLI_VERSION__;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [name, ...args] = argv;
  const specs = COMMANDS.map((c) => c.spec);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.spec.name === args[0]) : undefined;
    io.stdout.write(topic === undefined ? programHelp(specs, version()) : commandHelp(topic.spec));
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${version()}\n`);
    return EXIT.OK;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  const plain = { err: io.stderr, errStyle: createStyle(false), json: false, printJson: () => undefined };
  if (command === undefined) {
    const guess = closest(
      name,
      specs.map((s) => s.name),
    );
    const message = name.startsWith('-')
      ? `a command comes first: ${PROGRAM} <command> [options]`
      : `unknown command "${name}"${guess === undefined ? '' : ` (did you mean ${guess}?)`}`;
    return reportError(new UsageError(`${message}; commands: ${specs.map((s) => s.name).join(', ')}`), plain);
  }
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(command.spec, args);
  } catch (error) {
    return reportError(error, plain);
  }
  if (parsed.values.help === true) {
    io.stdout.write(commandHelp(command.spec));
    return EXIT.OK;
  }
  const context = createCommandContext(io, args, parsed.values, parsed.positionals);
  try {
    return await command.run(context);
  } catch (error) {
    // A bad option value found by the command: point at that command's help.
    const usage =
      error instanceof UsageError && error.command === undefined
        ? new UsageError(error.message, name, error.problems)
        : error;
    return reportError(usage, context);
  }
}

/** The real process: its streams, environment, clock, and Ctrl-C. */
export function processIo(): CliIo {
  const interrupt = new AbortController();
  process.once('SIGINT', () => interrupt.abort());
  // `datasphere-runner list | head -3`: the reader left; stop quietly instead of a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  return {
    stdout: {
      write: (text) => process.stdout.write(text),
      get isTTY() {
        return process.stdout.isTTY === true;
      },
      get columns() {
        // A pseudo-terminal without a size reports 0: then the width is unknown, not zero.
        return process.stdout.columns || undefined;
      },
    },
    stderr: {
      write: (text) => process.stderr.write(text),
      get isTTY() {
        return process.stderr.isTTY === true;
      },
    },
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
    sleep: abortableSleep,
    interrupt: interrupt.signal,
    fetch: globalThis.fetch,
    randomUUID,
  };
}
