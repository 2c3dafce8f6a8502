/**
 * The browser of the web console's browser test (test/web/console-browser.test.ts): Debian's `chromium`,
 * driven by playwright-core. Browser downloads (`npx playwright install`) cannot work here, so the test
 * uses the system browser, and this installs it with apt-get when it is missing and that is possible
 * (root, apt-get present): `.ci/run` calls it before `npm test`, and the test calls it too, so a plain
 * `npm test` on a fresh Debian machine installs it as well. Where it cannot be installed the test FAILS
 * with the command to run; it is never skipped.
 *
 * Usage: node --import tsx scripts/ensure-chromium.ts   (prints the browser's path)
 * Env: CHROMIUM_PATH, a browser to use instead of looking for one.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

const executable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The browser to drive: CHROMIUM_PATH when set, else Debian's. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const asked = env.CHROMIUM_PATH?.trim();
  if (asked !== undefined && asked !== '') return executable(asked) ? asked : undefined;
  return CANDIDATES.find(executable);
}

function run(log: (line: string) => void, args: string[]): boolean {
  log(`$ apt-get ${args.join(' ')}`);
  const result = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    log(
      `apt-get ${args[0]} failed (${result.status ?? result.error?.message}): ${(result.stderr ?? '').trim().slice(-800)}`,
    );
  }
  return result.status === 0;
}

/** The browser's path; installs Debian's chromium first when it is missing and this process can. */
export function ensureChromium(
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): string {
  const found = findChromium();
  if (found !== undefined) return found;
  if (process.env.CHROMIUM_PATH?.trim()) {
    throw new Error(`CHROMIUM_PATH=${process.env.CHROMIUM_PATH} is not an executable browser`);
  }
  const root = process.getuid?.() === 0;
  const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (root && apt) {
    log("chromium is missing: installing Debian's chromium (for the web console browser test)");
    const started = Date.now();
    if (run(log, ['update', '-q']) && run(log, ['install', '-y', '-q', 'chromium'])) {
      const installed = findChromium();
      if (installed !== undefined) {
        log(`chromium installed in ${((Date.now() - started) / 1000).toFixed(0)} s: ${installed}`);
        return installed;
      }
    }
  }
  throw new Error(
    'the web console browser test needs Chromium and it is not installed' +
      (root && apt ? ' (apt-get could not install it: see above)' : '') +
      '. Install it with `sudo apt-get install -y chromium` (Debian/Ubuntu), or set CHROMIUM_PATH to a Chromium or Chrome binary.',
  );
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${ensureChromium()}\n`);
  } catch (error) {
    process.stderr.write(`ensure-chromium: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
