#!/usr/bin/env node
// Checked-in launcher: npm links `hopgate` to this file at `npm ci`, before dist/ exists.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('hopgate: the CLI is not built yet; run "npm run build" in the clone first\n');
  process.exit(1);
}
await import(main.href);
