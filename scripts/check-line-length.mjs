#!/usr/bin/env node
// Fails when a tracked source file has a line over 120 characters, which Prettier leaves alone
// in long strings and comments. Usage: node scripts/check-line-length.mjs [MAX]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const max = Number(process.argv[2] ?? 120);
const files = execFileSync('git', ['ls-files', '*.ts', '*.mjs', '*.js', '*.py'], { encoding: 'utf8' })
  .split('\n')
  .filter(Boolean);
const long = [];
for (const f of files) {
  readFileSync(f, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.length > max) long.push(`${f}:${i + 1}: ${line.length} characters`);
    });
}
if (long.length) {
  console.error(`${long.length} lines over ${max} characters (wrap them):\n${long.join('\n')}`);
  process.exit(1);
}
console.log(`line length: every line of ${files.length} files is at most ${max} characters`);
