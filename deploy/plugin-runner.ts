/**
 * The Serverless Framework v3 with @yandex-cloud/serverless-plugin 1.7.5, behind a small interface.
 * What the deploy still lets the plugin do: create the three functions and upload each function's
 * code as a new version, from serverless.yaml (handler, memory, timeout, environment, artifact).
 * Everything the plugin gets wrong (accounts, triggers, secrets, its exit code) the deploy does
 * itself, before and after (platform.md §9).
 *
 * The framework and the plugin are pinned in deploy/tool/package-lock.json and installed there on
 * demand (`npm ci --ignore-scripts`), so the project's own `npm ci` stays small, and a deploy that
 * changes no function never installs or runs them.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface PluginRunner {
  /**
   * `serverless deploy --stage <stage>` with `env` added to the environment. Resolves when the
   * command exits 0, which says little: the plugin logs its own failures and exits 0, so the caller
   * checks the result through the API.
   */
  deploy(stage: string, env: Readonly<Record<string, string>>): Promise<void>;
}

export interface ServerlessCommandOptions {
  /** Where serverless.yaml is (the command runs there). */
  readonly root: string;
  /** deploy/tool: the pinned framework and plugin (package.json, lockfile, node_modules). */
  readonly toolDir: string;
  /** A command to run instead of the pinned install, e.g. `serverless` (SERVERLESS_COMMAND). */
  readonly command?: readonly string[] | undefined;
  readonly log: (line: string) => void;
  readonly baseEnv: NodeJS.ProcessEnv;
}

export function serverlessCommand(options: ServerlessCommandOptions): PluginRunner {
  return {
    async deploy(stage, env) {
      let command = options.command;
      if (command === undefined || command.length === 0) {
        const cli = join(options.toolDir, 'node_modules', 'serverless', 'bin', 'serverless.js');
        if (!existsSync(cli)) {
          options.log(
            `installing the pinned Serverless Framework and plugin into ${options.toolDir} (once, ~1 minute)`,
          );
          const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
          const code = await run(
            [npm, 'ci', '--no-audit', '--no-fund', '--ignore-scripts'],
            options.toolDir,
            options.baseEnv,
          );
          if (code !== 0) throw new Error(`npm ci in ${options.toolDir} exited with ${code}`);
        }
        command = [process.execPath, cli];
      }
      const code = await run([...command, 'deploy', '--stage', stage], options.root, {
        ...options.baseEnv,
        ...env,
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
      });
      if (code !== 0) throw new Error(`serverless deploy exited with ${code}`);
    },
  };
}

function run(command: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<number> {
  const [bin, ...args] = command;
  return new Promise((resolve) => {
    const child = spawn(bin ?? 'false', args, { cwd, env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', () => resolve(127));
    child.on('close', (code) => resolve(code ?? 1));
  });
}
