#!/usr/bin/env node
// The `datasphere-runner` command (package.json "bin"; `npx datasphere-runner` in a checkout). The CLI is
// TypeScript run through tsx, like `npm start`: it is a development tool and is never bundled into the
// functions. Exits with the code runCli answers once stdout has been flushed into a pipe.
import { register } from 'tsx/esm/api';

register();
const { runCli, processIo } = await import('./main.ts');
process.exitCode = await runCli(process.argv.slice(2), processIo());
