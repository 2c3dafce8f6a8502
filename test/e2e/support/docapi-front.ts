/**
 * The Document API endpoint as a process the test can kill: a TCP front process (the port the functions
 * talk to) forwarding to a dynalite that holds the data. SIGKILL of the front drops every connection in
 * the middle of its requests, exactly as a crash of the service does for its clients: a request is
 * applied or not, and the client cannot tell which; `restart()` starts a new front on the same port.
 *
 * Why not SIGKILL dynalite itself (with its data in a LevelDB directory)? dynalite writes an item and
 * each of its index entries with separate LevelDB puts, so a kill between them tears a write in two:
 * tried 11 times, 3 runs left open items without their index entry (never listed again). YDB updates
 * synchronous indexes in the same transaction as the item, so that fault does not exist there; the front
 * process gives the faults that do: dropped connections, refused connections, ambiguous writes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const FRONT = `
const net = require('node:net');
const [port, target] = process.argv.slice(1);
const server = net.createServer((client) => {
  const upstream = net.connect(Number(target), '127.0.0.1');
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
server.listen(Number(port), '127.0.0.1', () => console.log('@@port ' + server.address().port));
`;

export interface DocApiFront {
  readonly endpoint: string;
  readonly port: number;
  /** SIGKILL: every connection drops at once, mid-request. */
  kill(): Promise<void>;
  /** A new front on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

async function launch(port: number, target: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', FRONT, String(port), String(target)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const bound = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line.startsWith('@@port ')) resolve(Number(line.slice(7)));
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`front exited (${code ?? signal}) before listening`)),
    );
  });
  return { child, port: bound };
}

/** A killable front on a free port for the dynalite listening on `dynalitePort`. */
export async function startDocApiFront(dynalitePort: number): Promise<DocApiFront> {
  let current = await launch(0, dynalitePort);
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
          current = await launch(port, dynalitePort);
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
