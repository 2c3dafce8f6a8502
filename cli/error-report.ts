/**
 * Every way a command can fail, shown as a person needs it (never a stack trace) and mapped to the
 * exit codes of design.md §8.
 */
import { PROGRAM, UsageError } from './arguments.ts';
import type { CommandContext } from './command-context.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { isFinal } from './remote-run.ts';
import { InterruptedError, ServiceError } from './service-client.ts';

/** Writes `error` to stderr (and, with `--json`, the error body to stdout) and gives the exit code. */
export function reportError(
  error: unknown,
  context: Pick<CommandContext, 'err' | 'errStyle' | 'json' | 'printJson'>,
): ExitCode {
  const { err, errStyle } = context;
  const say = (text: string) => err.write(`${text}\n`);
  const label = errStyle.paint('red', 'error:');
  if (error instanceof UsageError) {
    say(`${label} ${error.message}`);
    for (const problem of error.problems) say(`  - ${problem}`);
    say(errStyle.dim(`see: ${PROGRAM} ${error.command === undefined ? '' : `${error.command} `}--help`));
    return EXIT.USAGE;
  }
  if (error instanceof InterruptedError) return EXIT.INTERRUPTED;
  if (error instanceof ServiceError) {
    const { status, code, problems = [], run, hint } = error.details;
    const where = status === undefined ? '' : errStyle.dim(` (HTTP ${status})`);
    if (context.json) {
      context.printJson(
        typeof error.details.body === 'object' && error.details.body !== null
          ? error.details.body
          : {
              error: {
                code: code ?? (error.kind === 'unreachable' ? 'UNREACHABLE' : 'SERVICE_FAILED'),
                message: error.message,
              },
            },
      );
    }
    if (problems.length > 1) {
      say(`${label} ${code ?? 'request refused'}: ${problems.length} problems${where}`);
      for (const problem of problems) say(`  - ${problem}`);
    } else {
      say(`${label} ${code === undefined ? '' : `${code}: `}${problems[0] ?? error.message}${where}`);
    }
    if (run !== undefined) say(`  run ${run.runId} is ${errStyle.status(run.status)}`);
    if (hint !== undefined) say(errStyle.dim(`hint: ${hint}`));
    if (error.kind === 'unreachable' && /refused|not found/.test(error.message)) {
      say(
        errStyle.dim(
          'hint: is the service running (npm start)? Set its address with --url or DATASPHERE_RUNNER_URL',
        ),
      );
    }
    return exitCodeOf(error);
  }
  // A bug: say so in one line; DEBUG=1 is not needed to see what it was.
  say(`${label} unexpected failure: ${(error as Error)?.message ?? String(error)}`);
  return EXIT.SERVICE;
}

export function exitCodeOf(error: ServiceError): ExitCode {
  if (error.kind === 'unreachable') return EXIT.SERVICE;
  const { code, run } = error.details;
  // Not started because a run of the same project and notebook (or job) is running: the run did not
  // succeed, which is not a mistake in the command line.
  if (code === 'RUN_ALREADY_RUNNING') return EXIT.RUN_NOT_SUCCEEDED;
  if (error.kind === 'refused') return EXIT.USAGE;
  // A start DataSphere refused is recorded as a FAILED run: the run ended otherwise.
  if (run !== undefined && isFinal(run) && run.status !== 'SUCCEEDED') return EXIT.RUN_NOT_SUCCEEDED;
  return EXIT.SERVICE;
}
