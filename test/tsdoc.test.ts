// TSDoc on every export of the portable entries (what editors show a user on hover): each
// function, class, type, interface and constant exported by @wgtorch/tensor,
// @wgtorch/kernels-wgsl and @wgtorch/autograd has a /** */ comment with text. Checked over the
// sources with the TypeScript compiler, following re-exports to the declaration.
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import ts from 'typescript';

const repo = resolve(import.meta.dirname, '..');
const ENTRIES = [
  'packages/tensor/src/index.ts',
  'packages/kernels-wgsl/src/index.ts',
  'packages/autograd/src/index.ts',
];

/** `entry: name` for each export of the entry (and of namespaces it exports) without TSDoc. */
function undocumentedExports(entries: readonly string[]): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    resolve(repo, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  )!;
  const program = ts.createProgram(
    entries.map((e) => resolve(repo, e)),
    { ...config.options, noEmit: true },
  );
  const checker = program.getTypeChecker();
  const missing: string[] = [];
  const visit = (label: string, exports: ts.Symbol[]) => {
    for (const exported of exports) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const name = `${label}: ${exported.name}`;
      const decl = symbol.declarations?.[0];
      if (decl && ts.isSourceFile(decl)) {
        visit(name, checker.getExportsOfModule(symbol)); // export * as ns: its members
        continue;
      }
      // The comment of any declaration (an overload, a merged interface, a property) counts.
      const doc = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
      if (!doc) missing.push(name);
    }
  };
  for (const entry of entries) {
    const file = program.getSourceFile(resolve(repo, entry))!;
    visit(entry, checker.getExportsOfModule(checker.getSymbolAtLocation(file)!));
  }
  return missing;
}

describe('TSDoc', () => {
  it('every export of the portable entries has a doc comment', () => {
    expect(undocumentedExports(ENTRIES)).toEqual([]);
  }, 60_000);
});
