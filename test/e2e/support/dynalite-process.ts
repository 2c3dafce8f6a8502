/**
 * dynalite (the DynamoDB stand-in for the YDB Document API) in a child process with its data in a
 * LevelDB directory, so a test can SIGKILL the store in the middle of a sweep and start it again on
 * the same port with the same data.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const SERVER = `
const dynalite = require('dynalite');
const [port, path] = process.argv.slice(1);
const server = dynalite({ createTableMs: 50, path });
server.listen(Number(port), '127.0.0.1', () => console.log('@@port ' + server.address().port));
`;

export interface DynaliteProcess {
  readonly endpoint: string;
  readonly port: number;
  /** SIGKILL: the store is gone at once, mid-request. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same data directory. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

async function launch(
  port: number,
  dataDir: string,
  cwd: string,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', SERVER, String(port), dataDir], {
    cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const bound = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line.startsWith('@@port ')) resolve(Number(line.slice(7)));
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`dynalite exited (${code ?? signal}) before listening`)),
    );
  });
  return { child, port: bound };
}

/** `cwd` must be a directory whose node_modules hold dynalite (the repository root). */
export async function startDynaliteProcess(dataDir: string, cwd: string): Promise<DynaliteProcess> {
  let current = await launch(0, dataDir, cwd);
  const port = current.port;
  const stop = async (signal: NodeJS.Signals) => {
    const child = current.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    kill: () => stop('SIGKILL'),
    async restart() {
      await stop('SIGKILL');
      // The port may linger briefly in the kernel after the kill: try again for a little while.
      for (let attempt = 0; ; attempt++) {
        try {
          current = await launch(port, dataDir, cwd);
          return;
        } catch (error) {
          if (attempt >= 20) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
    close: () => stop('SIGTERM'),
  };
}
