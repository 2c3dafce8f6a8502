/**
 * Mints an API key for the runner's HTTP API and prints it with its API_KEYS entry (docs/auth.md):
 *
 *   npm run api-key -- --name ci --projects b1gproj1,b1gproj2     (or --projects '*')
 *
 * The key is shown once: give it to the machine that calls the API (DATASPHERE_RUNNER_API_KEY for the
 * CLI, header X-Api-Key). The functions get only the entry line (name, SHA-256 of the key, projects),
 * appended to API_KEYS with `;`. Nothing is written anywhere.
 */
import { parseArgs } from 'node:util';
import { apiKeyEntryLine, mintApiKey } from '../shared/auth/api-keys.ts';
import { ConfigError } from '../shared/errors.ts';

const USAGE = `Usage: npm run api-key -- --name NAME --projects P1,P2|'*'

Mints a new API key and prints it once, with the API_KEYS entry the functions need (the key's SHA-256,
never the key). NAME (1..40 of A-Z a-z 0-9 _ . -) names the caller in the logs; the key may act on the
listed DataSphere projects, or on every project of ALLOWED_PROJECTS with '*'.
`;

function main(): number {
  let values: { name?: string; projects?: string; help?: boolean };
  try {
    values = parseArgs({
      options: {
        name: { type: 'string' },
        projects: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`api-key: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.name === undefined || values.projects === undefined) {
    process.stderr.write(`api-key: --name and --projects are required\n\n${USAGE}`);
    return 2;
  }
  const projects =
    values.projects.trim() === '*'
      ? '*'
      : values.projects
          .split(',')
          .map((id) => id.trim())
          .filter((id) => id !== '');
  const key = mintApiKey();
  let line: string;
  try {
    line = apiKeyEntryLine(values.name, key, projects);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`api-key: ${error.message.replace(/^API_KEYS: entry 1(?: \([^)]*\))?:? /, '')}\n`);
    return 2;
  }
  process.stdout.write(
    [
      `API key (shown once; give it to the caller, e.g. DATASPHERE_RUNNER_API_KEY or header X-Api-Key):`,
      `  ${key}`,
      `API_KEYS entry for the functions (append to API_KEYS with ";"):`,
      `  ${line}`,
      '',
    ].join('\n'),
  );
  return 0;
}

process.exitCode = main();
