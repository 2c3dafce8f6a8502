/**
 * Exit codes of `datasphere-runner` (design.md §8), stable so CI pipelines can branch on them.
 * 130 is the shell's convention for a command stopped by Ctrl-C (128 + SIGINT).
 */
export const EXIT = {
  /** The run SUCCEEDED, or the command did its job. */
  OK: 0,
  /** The run ended otherwise: FAILED, CANCELLED, TIMED_OUT, or it was not started (concurrency skip). */
  RUN_NOT_SUCCEEDED: 1,
  /** Usage error, or the service refused the request (invalid, not allowed, unknown run). */
  USAGE: 2,
  /** The service could not be reached, or failed. */
  SERVICE: 3,
  /** Stopped by Ctrl-C while waiting; the run itself goes on. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
