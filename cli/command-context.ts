/**
 * What a command gets: its parsed options, output streams that can never print a credential, the
 * styles for each stream, and the service client (built on first use, so `jobs` and `--help` never
 * need a target).
 */
import { createRedactor } from '../shared/redact.ts';
import { type OptionValues, PROGRAM } from './arguments.ts';
import type { CliIo, TextSink } from './cli-io.ts';
import type { ExitCode } from './exit-codes.ts';
import { flag } from './option-values.ts';
import { createServiceClient, type ServiceClient } from './service-client.ts';
import { resolveTarget } from './target.ts';
import { colourWanted, createStyle, type Style } from './terminal-style.ts';

export interface CommandContext {
  readonly io: CliIo;
  readonly values: OptionValues;
  readonly positionals: readonly string[];
  /** The command's arguments as typed (after the command name). */
  readonly args: readonly string[];
  readonly json: boolean;
  readonly out: TextSink;
  readonly err: TextSink;
  readonly style: Style;
  readonly errStyle: Style;
  /** Writes one line to stdout. */
  line(text?: string): void;
  /** Writes a value as JSON to stdout: indented on a terminal, one line in a pipe. */
  printJson(value: unknown): void;
  client(): ServiceClient;
}

export interface Command {
  readonly spec: import('./arguments.ts').CommandSpec;
  run(context: CommandContext): Promise<ExitCode>;
}

/**
 * A sink that masks the credentials in use by value before anything is written: an error message or a
 * record that echoes a token never shows it. The functions' redactor does it (also inside JSON strings
 * and URL-encoded). (Text from the service is also scrubbed by shape, where it is read: see
 * service-client.ts.)
 */
export function scrubbingSink(sink: TextSink, secrets: readonly string[]): TextSink {
  const redactor = createRedactor(secrets);
  return {
    ...(sink.isTTY === undefined ? {} : { isTTY: sink.isTTY }),
    ...(sink.columns === undefined ? {} : { columns: sink.columns }),
    write(text: string) {
      sink.write(redactor.values(text));
    },
  };
}

export function createCommandContext(
  io: CliIo,
  args: readonly string[],
  values: OptionValues,
  positionals: readonly string[],
): CommandContext {
  // Every credential the process could send, from options or environment, even for commands that send none.
  const secrets = [values.token, values['api-key'], io.env.YC_IAM_TOKEN, io.env.DATASPHERE_RUNNER_API_KEY]
    .filter((v): v is string => typeof v === 'string' && v.trim() !== '')
    .map((v) => v.trim());
  const out = scrubbingSink(io.stdout, secrets);
  const err = scrubbingSink(io.stderr, secrets);
  const noColor = flag(values, 'no-color');
  const style = createStyle(colourWanted(io.stdout, io.env, noColor));
  const errStyle = createStyle(colourWanted(io.stderr, io.env, noColor));
  const json = flag(values, 'json');
  let client: ServiceClient | undefined;
  return {
    io,
    values,
    positionals,
    args,
    json,
    out,
    err,
    style,
    errStyle,
    line: (text = '') => out.write(`${text}\n`),
    printJson: (value) =>
      out.write(`${JSON.stringify(value, null, io.stdout.isTTY === true ? 2 : undefined)}\n`),
    client() {
      if (client === undefined) {
        const target = resolveTarget(values, io.env);
        if (target.warning !== undefined) err.write(`${errStyle.paint('yellow', target.warning)}\n`);
        client = createServiceClient(target, io, { userAgent: `${PROGRAM}-cli` });
      }
      return client;
    },
  };
}
