/**
 * `npm run emulator`: the DataSphere emulator in its own process. Options come from EMULATOR_*
 * variables (see env-options.ts); one line per request goes to stdout (method, path, status; never a token).
 */
import { startEmulator } from './emulator.ts';
import { emulatorOptionsFromEnv } from './env-options.ts';

async function main(): Promise<void> {
  let options: ReturnType<typeof emulatorOptionsFromEnv>;
  try {
    options = emulatorOptionsFromEnv(process.env);
  } catch (error) {
    process.stderr.write(`emulator: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const emulator = await startEmulator({
    ...options,
    log: (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`),
  });
  process.stdout.write(`DataSphere emulator listening on ${emulator.url}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`emulator: ${signal}, stopping\n`);
    emulator.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(
          `emulator: close failed: ${error instanceof Error ? error.message : String(error)}\n`,
        );
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`emulator: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
