/**
 * Reads the Dockerfile and .dockerignore the way Docker does, closely enough
 * to check them without a Docker engine (there is none here): instructions
 * with their line continuations joined, and which paths the build context
 * holds. The .dockerignore reader understands only the pattern kinds the
 * project's file uses (`*`, `!path`, `**` and `*` globs) and throws on others,
 * so a new kind of rule can't be misread silently.
 *
 * @example
 * const stages = parseDockerfile(await readFile('Dockerfile', 'utf8'));
 * const inContext = dockerignoreFilter(await readFile('.dockerignore', 'utf8'));
 * inContext('test/api.test.ts'); // → false
 */

export type Instruction = { keyword: string; args: string; line: number };
export type Stage = { from: string; name: string | undefined; instructions: Instruction[] };

/** The Dockerfile's stages in order; instructions before the first FROM (global ARGs) go to a stage with from ''. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [{ from: '', name: undefined, instructions: [] }];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\')) {
      line = line.slice(0, -1);
      // Comment lines inside a continued instruction are dropped, as Docker does.
      do i++;
      while (i < lines.length && lines[i]!.trim().startsWith('#'));
      line += ` ${(lines[i] ?? '').trim()}`;
    }
    const [keyword, ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword!.toUpperCase(), args: rest.join(' '), line: start + 1 };
    if (instruction.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      stages.push({ from: m?.[1] ?? instruction.args, name: m?.[2], instructions: [] });
    } else stages.at(-1)!.instructions.push(instruction);
  }
  return stages;
}

/** `KEY=value KEY2="value 2"` (ENV, ARG) as pairs. */
export function keyValues(args: string): [string, string][] {
  return [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|\S*))?/g)].map((m) => [m[1]!, (m[2] ?? '').replace(/^"|"$/g, '')]);
}

/** A predicate: is this path (relative, `/`-separated) in the build context? */
export function dockerignoreFilter(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      if (/[[\]{}\\]/.test(pattern)) throw new Error(`.dockerignore: this checker does not understand "${l}"`);
      const source = pattern
        .split('/')
        .map((part) => (part === '**' ? '(?:.*/)?' : `${part.replace(/[.+^$()|]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}/`))
        .join('')
        .replace(/\/$/, '')
        .replace(/\(\?:\.\*\/\)\?\//g, '(?:.*/)?');
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  return (path) => {
    // A rule that matches a folder matches everything in it, as in Docker.
    const prefixes = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    let included = true;
    for (const rule of rules) if (prefixes.some((p) => rule.regex.test(p))) included = rule.negate;
    return included;
  };
}
