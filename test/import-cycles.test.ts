/**
 * The module graph of server/, client/ and crypto/ has no circles: each folder
 * is one concept, and a circle means two concepts that can't be read (or
 * changed) apart. Every relative import counts, `import type` too, since a
 * type-only cycle is still two files that each need the other to make sense.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const FOLDERS = ['server', 'client', 'crypto'];

/** Every `.ts` file under the folders, as paths relative to the repository. */
function sourceFiles(): string[] {
  return FOLDERS.flatMap((folder) =>
    readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
      .map((e) => relative(ROOT, join(e.parentPath, e.name))),
  );
}

// `import … from './x.ts'`, `export … from './x.ts'`, and `import('./x.ts')`.
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

/** The code without its comments, whose `@example` blocks show imports that aren't made. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

/** file → the repository files it imports (relative specifiers only). */
export function importGraph(files: string[], read: (file: string) => string): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = new Set<string>();
    for (const m of withoutComments(read(file)).matchAll(IMPORT)) {
      const target = relative(ROOT, resolve(ROOT, dirname(file), m[1]!));
      if (known.has(target)) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/** Tarjan's strongly connected components with more than one file, or a file importing itself. */
export function importCircles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return circles;
}

describe('import circles', () => {
  it('finds a circle when there is one (the checker can fail)', () => {
    const files = ['server/a.ts', 'server/b.ts', 'server/c.ts', 'server/d.ts'];
    const text: Record<string, string> = {
      'server/a.ts': "/** @example import { a } from './a.ts'; */\nimport { b } from './b.ts';",
      'server/b.ts': "import type { C } from './c.ts';\nexport const b = 1;",
      'server/c.ts': "export { a } from './a.ts';",
      'server/d.ts': "const m = await import('./a.ts');",
    };
    expect(importCircles(importGraph(files, (f) => text[f]!))).toEqual([['server/a.ts', 'server/b.ts', 'server/c.ts']]);
  });

  it('server/, client/ and crypto/ have none', () => {
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(50);
    const graph = importGraph(files, (f) => readFileSync(join(ROOT, f), 'utf8'));
    expect([...graph.values()].flat().length).toBeGreaterThan(100);
    expect(importCircles(graph)).toEqual([]);
  });

  it('client/ never imports from server/ (shared code lives where both may import it)', () => {
    const files = sourceFiles();
    const graph = importGraph(files, (f) => readFileSync(join(ROOT, f), 'utf8'));
    const crossings = [...graph].flatMap(([from, tos]) => (from.startsWith('client/') ? tos.filter((t) => t.startsWith('server/')).map((t) => `${from} → ${t}`) : []));
    expect(crossings).toEqual([]);
  });
});
