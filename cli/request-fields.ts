/**
 * The service names the wrong fields of a run request (`retry.attempts`, `inputVariables.A`); the
 * person typed options (`--retry`, `--var`). For a refused request (400), each problem the service
 * listed gets the option it came from, so the answer reads in the words of the command line. Nothing is
 * checked here: the rules (ranges, lengths) are the service's, and so are the messages.
 */
import { ServiceError } from './service-client.ts';

/** Request field (or the start of a field path) → the option that sets it, e.g. `retry.on` → `--retry-on`. */
export type FieldOptions = Readonly<Record<string, string>>;

/** The option that sets `field`: the longest entry of `options` that is the field or a prefix of its path. */
export function optionOfField(field: string, options: FieldOptions): string | undefined {
  let best: string | undefined;
  for (const key of Object.keys(options)) {
    if ((field === key || field.startsWith(`${key}.`)) && (best === undefined || key.length > best.length)) {
      best = key;
    }
  }
  return best === undefined ? undefined : options[best];
}

/** `error` with each of its problems followed by `(--option)`, when it is a 400 naming request fields. */
export function withOptionNames(error: unknown, options: FieldOptions): unknown {
  if (!(error instanceof ServiceError) || error.details.status !== 400) return error;
  const problems = error.details.problems ?? [];
  const body = error.details.body as { error?: { field?: unknown; errors?: unknown } } | null | undefined;
  const items = body?.error?.errors;
  const fields: unknown[] = Array.isArray(items)
    ? items.map((item) => (item as { field?: unknown } | null)?.field)
    : [body?.error?.field];
  if (fields.length !== problems.length) return error;
  const named = problems.map((problem, i) => {
    const field = fields[i];
    const option = typeof field === 'string' ? optionOfField(field, options) : undefined;
    return option === undefined ? problem : `${problem} (${option})`;
  });
  return new ServiceError(error.kind, error.message, { ...error.details, problems: named });
}
