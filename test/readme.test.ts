// The README's Node and browser examples are the shipped example files, which the pack test
// runs from the installed packages: each block marked with its file's path must equal that file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '..');
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const marked = [...readme.matchAll(/<!-- (\S+) \(test\/readme\.test\.ts[^>]*-->\n```\w*\n([\s\S]*?)\n```/g)];

describe('README examples', () => {
  it('marks the Node and the browser example', () => {
    expect(marked.map((m) => m[1])).toEqual([
      'packages/autograd/examples/small-cnn.mjs',
      'packages/autograd/examples/browser.html',
    ]);
  });

  it.each(marked.map((m) => [m[1], m[2]]))('%s is the README block verbatim', (path, block) => {
    expect(block, `copy ${path} into the README block again`).toBe(readFileSync(join(repo, path), 'utf8').trimEnd());
  });
});
