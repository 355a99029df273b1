// Runs before `npm start` and `npm test`: on a fresh clone (or after package-lock.json
// changed) it installs the locked dependencies, so the README's two commands work on their
// own. Plain JavaScript: it runs on whatever Node the machine has, before Node 24 is installed.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import process from 'node:process';

/** @param {string} path */
const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
};

const installed = mtime('node_modules/.package-lock.json');
if (installed < 0 || installed < mtime('package-lock.json')) {
  process.stderr.write('dependencies missing or out of date: running npm ci\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
