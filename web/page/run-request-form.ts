// The "start a run" form as a run request (design.md §4): project, notebook and variables typed one
// `NAME=value` per line. The server validates everything again and names the wrong field; this only
// turns the text into JSON and catches what it cannot send. Pure.

export interface StartFormValues {
  readonly projectId: string;
  readonly notebookId: string;
  /** One `NAME=value` per line; blank lines and lines starting with `#` are skipped. */
  readonly variables: string;
}

export interface StartRequest {
  readonly projectId: string;
  readonly notebookId: string;
  readonly inputVariables?: Readonly<Record<string, string>>;
}

/** The request of the form, or the problems to show (each names its field, and its line). */
export function startRequestOf(
  values: StartFormValues,
): { readonly request: StartRequest } | { readonly problems: readonly string[] } {
  const problems: string[] = [];
  const projectId = values.projectId.trim();
  const notebookId = values.notebookId.trim();
  if (projectId === '') problems.push('project: required');
  if (notebookId === '') problems.push('notebook: required');
  const inputVariables: Record<string, string> = {};
  values.variables.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = line.indexOf('=');
    const name = at < 0 ? line : line.slice(0, at).trim();
    if (at < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      problems.push(`variables, line ${index + 1}: write NAME=value (a name of letters, digits and _)`);
      return;
    }
    if (Object.hasOwn(inputVariables, name)) {
      problems.push(`variables, line ${index + 1}: ${name} is given twice`);
      return;
    }
    inputVariables[name] = line.slice(at + 1).trim();
  });
  if (problems.length > 0) return { problems };
  return {
    request: {
      projectId,
      notebookId,
      ...(Object.keys(inputVariables).length === 0 ? {} : { inputVariables }),
    },
  };
}
