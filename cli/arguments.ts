/**
 * A thin layer over node's `util.parseArgs`: each command declares its options once, and that one
 * declaration drives parsing, the checks parseArgs does not do (required options, one positional run
 * id), the error messages and the `--help` text. No dependency: parseArgs is in Node since 18.3.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  /** Long name, without dashes. */
  readonly name: string;
  readonly short?: string;
  readonly type: 'string' | 'boolean';
  /** The option may be given several times (`--var K=V --var K2=V2`). */
  readonly multiple?: boolean;
  readonly required?: boolean;
  /** Placeholder in the help text, e.g. `P`. */
  readonly value?: string;
  readonly description: string;
}

export interface CommandSpec {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Everything after the program name in the usage line. */
  readonly usage: string;
  /** More lines of explanation for `--help`. */
  readonly details?: readonly string[];
  /** Names of the positional arguments this command requires, in order (`RUN`). */
  readonly positionals?: readonly string[];
  readonly options: readonly OptionSpec[];
  readonly examples?: readonly string[];
  /** The command talks to the service: the target and credential options apply. */
  readonly remote: boolean;
}

/**
 * A wrong command line: the message says what is wrong; `command` names the help to read. When several
 * options are wrong, `problems` names each (and the message counts them).
 */
export class UsageError extends Error {
  readonly command: string | undefined;
  readonly problems: readonly string[];
  constructor(message: string, command?: string, problems: readonly string[] = []) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
    this.problems = problems;
  }
}

export const PROGRAM = 'datasphere-runner';
export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** Options every command talking to the service has. */
export const TARGET_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'url',
    type: 'string',
    value: 'URL',
    description: `service URL (env DATASPHERE_RUNNER_URL; default ${DEFAULT_URL}, the local npm start)`,
  },
  {
    name: 'token',
    type: 'string',
    value: 'TOKEN',
    description: 'IAM token, sent as Authorization: Bearer (env YC_IAM_TOKEN)',
  },
  {
    name: 'api-key',
    type: 'string',
    value: 'KEY',
    description: 'API key, sent as X-Api-Key (env DATASPHERE_RUNNER_API_KEY)',
  },
];

/** Options every command has. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { name: 'json', type: 'boolean', description: 'print JSON records instead of text' },
  { name: 'no-color', type: 'boolean', description: 'no colours (also: NO_COLOR=1)' },
  { name: 'help', short: 'h', type: 'boolean', description: 'show this help' },
];

export function optionsOf(spec: CommandSpec): readonly OptionSpec[] {
  return [...spec.options, ...(spec.remote ? TARGET_OPTIONS : []), ...COMMON_OPTIONS];
}

export type OptionValues = Readonly<Record<string, string | boolean | readonly string[] | undefined>>;

export interface ParsedCommandLine {
  readonly values: OptionValues;
  readonly positionals: readonly string[];
}

/**
 * Parses the arguments after the command name. `--help` short-circuits every other check so that a
 * half-typed command line still shows its help.
 *
 * @throws UsageError naming the unknown option, the missing value or the missing argument.
 */
export function parseCommandLine(spec: CommandSpec, args: readonly string[]): ParsedCommandLine {
  const options = optionsOf(spec);
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const option of options) {
    config[option.name] = {
      type: option.type,
      ...(option.short === undefined ? {} : { short: option.short }),
      ...(option.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options: config, allowPositionals: true, strict: true });
  } catch (error) {
    if (args.includes('--help') || args.includes('-h')) return { values: { help: true }, positionals: [] };
    throw new UsageError(describeParseError(error as Error & { code?: string }, spec, options), spec.name);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (values.help === true) return { values, positionals: parsed.positionals };
  for (const option of options) {
    const value = values[option.name];
    if (option.required && (value === undefined || (Array.isArray(value) && value.length === 0))) {
      throw new UsageError(`${spec.name} needs --${option.name} ${option.value ?? ''}`.trimEnd(), spec.name);
    }
    if (option.type === 'string' && !option.multiple && typeof value === 'string' && value.trim() === '') {
      throw new UsageError(`--${option.name} must not be empty`, spec.name);
    }
  }
  const wanted = spec.positionals ?? [];
  if (parsed.positionals.length < wanted.length) {
    throw new UsageError(
      `${spec.name} needs ${wanted.slice(parsed.positionals.length).join(' ')} (usage: ${PROGRAM} ${spec.usage})`,
      spec.name,
    );
  }
  if (parsed.positionals.length > wanted.length) {
    const extra = parsed.positionals.slice(wanted.length);
    throw new UsageError(
      `unexpected argument${extra.length === 1 ? '' : 's'} ${extra.map((a) => JSON.stringify(a)).join(' ')} for ${spec.name}`,
      spec.name,
    );
  }
  return { values, positionals: parsed.positionals };
}

function describeParseError(
  error: Error & { code?: string },
  spec: CommandSpec,
  options: readonly OptionSpec[],
): string {
  const quoted = /'(-{1,2}[^' ,]+)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const name = quoted ?? 'an option';
      const guess = closest(
        name.replace(/^-+/, ''),
        options.map((o) => o.name),
      );
      return `unknown option ${name} for ${spec.name}${guess === undefined ? '' : ` (did you mean --${guess}?)`}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      // Either a string option without its value, or a value given to a flag.
      const option = options.find((o) => quoted === `--${o.name}` || quoted === `-${o.short}`);
      if (option?.type === 'boolean') return `--${option.name} takes no value`;
      return `${quoted ?? 'an option'} needs a value${option?.value ? ` (${option.value})` : ''}`;
    }
    default:
      return error.message;
  }
}

/** The closest name within an edit distance of 2 (a typo), if any. */
export function closest(input: string, names: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = editDistance(input, name);
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

export const EXIT_CODES_HELP = [
  'Exit codes: 0 the run SUCCEEDED (or the command did its job), 1 the run ended otherwise',
  '(FAILED, CANCELLED, TIMED_OUT, or not started), 2 usage or validation error,',
  '3 the service could not be reached or failed, 130 stopped by Ctrl-C (the run goes on).',
];

/** The `--help` text of one command. */
export function commandHelp(spec: CommandSpec): string {
  const lines = [`Usage: ${PROGRAM} ${spec.usage}`, '', spec.summary];
  if (spec.details !== undefined) lines.push('', ...spec.details);
  const width = Math.max(...optionsOf(spec).map((o) => optionLabel(o).length)) + 2;
  const own = spec.options;
  if (own.length > 0) lines.push('', 'Options:', ...optionLines(own, width));
  if (spec.remote) lines.push('', 'Target and credentials:', ...optionLines(TARGET_OPTIONS, width));
  lines.push('', 'Output:', ...optionLines(COMMON_OPTIONS, width));
  if (spec.examples !== undefined && spec.examples.length > 0) {
    lines.push('', 'Examples:', ...spec.examples.map((example) => `  ${example}`));
  }
  lines.push('', ...EXIT_CODES_HELP);
  return `${lines.join('\n')}\n`;
}

function optionLabel(o: OptionSpec): string {
  const names = `${o.short === undefined ? '    ' : `-${o.short}, `}--${o.name}`;
  return o.value === undefined ? names : `${names} ${o.value}`;
}

function optionLines(options: readonly OptionSpec[], width: number): string[] {
  return options.map((o) => {
    const repeat = o.multiple ? ' (repeatable)' : '';
    const required = o.required ? ' (required)' : '';
    return `  ${optionLabel(o).padEnd(width)}${o.description}${required}${repeat}`;
  });
}

/** The top-level `--help`: the commands and where to read more. */
export function programHelp(commands: readonly CommandSpec[], version: string): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `${PROGRAM} ${version}: start, follow and cancel DataSphere notebook runs of a datasphere-runner service.`,
    '',
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    `Every command has --help. The service is --url or DATASPHERE_RUNNER_URL (default ${DEFAULT_URL},`,
    'the local `npm start`); credentials: --token / YC_IAM_TOKEN or --api-key / DATASPHERE_RUNNER_API_KEY.',
    '',
    ...EXIT_CODES_HELP,
    '',
  ].join('\n');
}
