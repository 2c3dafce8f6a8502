// The npm registry this project installs from serves only some platform builds of a few packages
// (e.g. @biomejs/cli-darwin-x64@2.6.8 is missing), so `npm install` writes a package-lock.json without
// those optional entries, and `npm ci` then refuses the lock as "out of sync". This adds each missing
// platform-specific optional dependency as an entry with its os/cpu/libc read from its name; npm ci
// skips such entries on other platforms without fetching them.
// Run after `npm install`: node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const lockPath = join(root, 'package-lock.json');
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages;

const OS = [
  'darwin',
  'linux',
  'win32',
  'android',
  'freebsd',
  'openbsd',
  'netbsd',
  'sunos',
  'aix',
  'openharmony',
];
const CPU = ['x64', 'arm64', 'ia32', 'arm', 'loong64', 'mips64el', 'ppc64', 'riscv64', 's390x'];

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((part) => OS.includes(part));
  const cpu = parts.find((part) => CPU.includes(part));
  if (os === undefined || cpu === undefined) return undefined;
  return { os: [os], cpu: [cpu], ...(parts.includes('musl') ? { libc: ['musl'] } : {}) };
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const depPath = `${path === '' ? '' : `${path}/`}node_modules/${dep}`;
    const hoisted = `node_modules/${dep}`;
    if (packages[depPath] !== undefined || packages[hoisted] !== undefined) continue;
    const platform = platformOf(dep);
    if (platform === undefined) continue;
    packages[hoisted] = { version, dev: entry.dev, optional: true, ...platform };
    if (packages[hoisted].dev === undefined) delete packages[hoisted].dev;
    added++;
  }
}
const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
lock.packages = sorted;
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: added ${added} platform-specific optional entries`);
