import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

/**
 * The published package, as a user gets it: one `npm pack`, one install of the tarball into a
 * consumer app under test/artifacts (its peers resolve from the repository's node_modules, so
 * nothing is downloaded), then TypeScript, Node.js and the docs' snippets against that install.
 */
const root = resolve(import.meta.dirname, '..');
const work = join(root, 'test', 'artifacts', 'consumer');
const app = join(work, 'app');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  main: string;
  types: string;
  exports: Record<string, ExportTarget>;
};
type ExportTarget = string | { [condition: string]: ExportTarget };
interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string; size: number }>;
}

/** What the tarball may hold: the compiled library (JavaScript and declarations) and four top-level files. */
const ALLOWED = [/^dist\/.+\.js$/, /^dist\/.+\.d\.ts$/, /^(package\.json|README\.md|LICENSE|CHANGELOG\.md)$/];
/** Never in the tarball, whatever the extension (source maps are not shipped: tsconfig.build.json). */
const FORBIDDEN = /\.spec\.|\.e2e-spec\.|\.test\.|__tests__|fixtures?\/|tsconfig|\.tsbuildinfo|\.map$|^(lib|sample|test|bench|docs|scripts)\//;

const env = { ...process.env, npm_config_loglevel: 'error', npm_config_update_notifier: 'false' };
const run = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env });
/** Runs a command to its end and returns its exit code and output, never throwing. */
async function outcome(cmd: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(cmd, args, { cwd, encoding: 'utf8', env, maxBuffer: 16 << 20 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

const leaves = (target: ExportTarget): string[] => (typeof target === 'string' ? [target] : Object.values(target).flatMap(leaves));
/** Every entry of the exports map: its import specifier, the files it points at, and whether it is JSON. */
const entries = Object.entries(manifest.exports).map(([subpath, target]) => ({
  subpath,
  target,
  specifier: manifest.name + subpath.slice(1),
  files: leaves(target).map((file) => file.replace(/^\.\//, '')),
  json: leaves(target).every((file) => file.endsWith('.json')),
}));
const code = entries.filter((entry) => !entry.json);
const json = entries.filter((entry) => entry.json);

let dryRun: PackResult;
let packed: PackResult;

beforeAll(() => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(app, { recursive: true });
  run('npm', ['run', 'build'], root);
  [dryRun] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], root)) as PackResult[];
  [packed] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], root)) as PackResult[];
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  run('npm', ['install', '--legacy-peer-deps', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', join(work, packed.filename)], app);
}, 120_000);

describe('npm package contents', () => {
  it('holds only dist/ (JavaScript and declarations), README.md, LICENSE, CHANGELOG.md and package.json', () => {
    const files = dryRun.files.map((f) => f.path).sort();
    const kB = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;
    console.log(`npm pack: ${files.length} files, ${kB(dryRun.size)} packed, ${kB(dryRun.unpackedSize)} unpacked\n${files.join('\n')}`);

    expect(files.filter((file) => !ALLOWED.some((pattern) => pattern.test(file)) || FORBIDDEN.test(file))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts']));
    expect(files.filter((file) => file.endsWith('.js') && !files.includes(file.replace(/\.js$/, '.d.ts')))).toEqual([]);
    // What package.json points at is in the tarball; TypeScript reads `types` only as the first condition.
    const pointedAt = [manifest.main, manifest.types, ...entries.flatMap((entry) => entry.files)].map((file) => file.replace(/^\.\//, ''));
    expect(pointedAt.filter((file) => !files.includes(file))).toEqual([]);
    for (const entry of code) if (typeof entry.target !== 'string') expect([entry.subpath, Object.keys(entry.target)[0]]).toEqual([entry.subpath, 'types']);
    // The tarball the consumer installs is the one the dry run described.
    expect(packed.files.map((f) => f.path).sort()).toEqual(files);
    expect(readdirSync(join(app, 'node_modules')).filter((f) => !f.startsWith('.'))).toEqual([manifest.name]);
  });
});

describe('every export of package.json "exports", in a consumer app', () => {
  it('type-checks under moduleResolution node16, nodenext and bundler, from ESM and (nodenext) from CommonJS', async () => {
    expect(code.map((entry) => entry.subpath)).toContain('.');
    writeFileSync(
      join(app, 'esm-code.ts'),
      code.map((entry, i) => `import * as e${i} from '${entry.specifier}';`).join('\n') +
        `\nexport const loaded: object[] = [${code.map((_, i) => `e${i}`).join(', ')}];\n`,
    );
    writeFileSync(
      join(app, 'esm-json.ts'),
      json.map((entry, i) => `import j${i} from '${entry.specifier}' with { type: 'json' };`).join('\n') +
        `\nexport const loaded: object[] = [${json.map((_, i) => `j${i}`).join(', ')}];\n`,
    );
    writeFileSync(
      join(app, 'cjs.cts'),
      [...code, ...json].map((entry, i) => `import m${i} = require('${entry.specifier}');`).join('\n') +
        `\nexport const loaded: object[] = [${[...code, ...json].map((_, i) => `m${i}`).join(', ')}];\n`,
    );
    // node16 has neither require(esm) nor import attributes in TypeScript's model, so it checks the ESM imports of code.
    // nodenext also checks every declaration file (skipLibCheck: false, the slow part); the others check resolution and use.
    const projects = {
      node16: { module: 'node16', moduleResolution: 'node16', skipLibCheck: true, files: ['esm-code.ts'] },
      nodenext: { module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: false, files: ['esm-code.ts', 'esm-json.ts', 'cjs.cts'] },
      bundler: { module: 'preserve', moduleResolution: 'bundler', skipLibCheck: true, files: ['esm-code.ts', 'esm-json.ts'] },
    };
    const results = await Promise.all(
      Object.entries(projects).map(async ([name, { files, ...modules }]) => {
        const compilerOptions = {
          ...modules, target: 'es2023', strict: true, resolveJsonModule: true, noEmit: true,
          types: ['node'], typeRoots: [join(root, 'node_modules', '@types')],
        };
        writeFileSync(join(app, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions, files }));
        const { code: exit, output } = await outcome(process.execPath, [tsc, '-p', `tsconfig.${name}.json`], app);
        return { name, exit, output: output.trim() };
      }),
    );
    expect(results).toEqual(Object.keys(projects).map((name) => ({ name, exit: 0, output: '' })));
  }, 90_000);

  it('loads with import and with a CommonJS require() (so no module in it uses top-level await)', () => {
    const specifiers = JSON.stringify(entries.map((entry) => [entry.specifier, entry.json]));
    writeFileSync(
      join(app, 'load.mjs'),
      `const out = {};
for (const [s, json] of ${specifiers}) out[s] = Object.keys(json ? (await import(s, { with: { type: 'json' } })).default : await import(s)).sort();
console.log(JSON.stringify(out));\n`,
    );
    writeFileSync(
      join(app, 'load.cjs'),
      `const out = {};
for (const [s] of ${specifiers}) out[s] = Object.keys(require(s)).sort();
console.log(JSON.stringify(out));\n`,
    );
    const viaImport = JSON.parse(run(process.execPath, ['load.mjs'], app)) as Record<string, string[]>;
    const viaRequire = JSON.parse(run(process.execPath, ['load.cjs'], app)) as Record<string, string[]>;
    expect(Object.keys(viaImport)).toEqual(entries.map((entry) => entry.specifier));
    expect(viaRequire).toEqual(viaImport);
    for (const entry of code) expect([entry.specifier, viaImport[entry.specifier].length > 0]).toEqual([entry.specifier, true]);
    expect(viaImport[manifest.name]).toEqual(expect.arrayContaining(['SessionRevocationModule', 'SessionService', 'SessionGuard']));
  });

  it('a Nest app compiled against it (nodenext, strict) starts its module and entities', () => {
    writeFileSync(
      join(app, 'main.ts'),
      `import 'reflect-metadata';
import { Controller, Get, Module, Post } from '@nestjs/common';
import { Entity, PrimaryGeneratedColumn, Column } from 'typeorm';
import {
  SessionRevocationModule, SessionService, SkipSessionCheck, CurrentSession, SessionTokenColumn, RevokesSessions,
  SESSION_REVOCATION_ENTITIES, type SessionContext,
} from 'nestjs-session-revocation';

@Entity() export class User {
  @PrimaryGeneratedColumn() id!: number;
  @Column() @RevokesSessions() passwordHash!: string;
  @SessionTokenColumn() sessionToken!: string;
}
@Controller() export class AppController {
  constructor(private readonly sessions: SessionService) {}
  @SkipSessionCheck() @Post('login') login() { return this.sessions.issue(1); }
  @Get('me') me(@CurrentSession() s: SessionContext) { return s.userId; }
}
@Module({ imports: [SessionRevocationModule.forRoot({ userEntity: User, jwt: { secret: 'x'.repeat(32) } })], controllers: [AppController] })
export class AppModule {}
console.log(JSON.stringify({ module: typeof SessionRevocationModule.forRoot, entities: SESSION_REVOCATION_ENTITIES.length }));
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext', moduleResolution: 'nodenext', target: 'es2023', strict: true, experimentalDecorators: true,
          emitDecoratorMetadata: true, skipLibCheck: true, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')], outDir: 'out',
        },
        files: ['main.ts'],
      }),
    );
    run(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
    expect(JSON.parse(run(process.execPath, [join(app, 'out', 'main.js')], app))).toEqual({ module: 'function', entities: SESSION_ENTITY_COUNT });
  }, 60_000);
});

describe('code blocks of README.md and docs/ (scripts/check-doc-snippets.mjs)', () => {
  const checkSnippets = (...args: string[]) => outcome(process.execPath, [join(root, 'scripts', 'check-doc-snippets.mjs'), '--consumer', app, ...args], root);

  it('every TypeScript block compiles against the installed package', async () => {
    const { code: exit, output } = await checkSnippets();
    console.log(output);
    expect({ exit, problems: output.split('\n').filter((line) => /:\d+: (?!skipped)/.test(line)) }).toEqual({ exit: 0, problems: [] });
    const [, compiled] = /doc snippets: (\d+) compiled/.exec(output) ?? [];
    expect(Number(compiled)).toBeGreaterThan(10);
  }, 60_000);

  it('reports a block that does not compile, a name no context provides and a skip without a reason, at their markdown lines', async () => {
    const fixture = join(work, 'fixture.md');
    writeFileSync(
      fixture,
      [
        '# Fixture', // 1
        '```ts', // 2
        "import { ClientInfo } from 'nestjs-session-revocation';", // 3
        'export { ClientInfo };', // 4
        '```', // 5
        '<!-- snippet: partial -->', // 6
        '```typescript', // 7
        'await sessions.invalidateSessions(userId);', // 8
        'notDefinedAnywhere(userId);', // 9
        '```', // 10
        '<!-- snippet: skip -->', // 11
        '```ts', // 12
        'this is not TypeScript', // 13
        '```', // 14
        '<!-- snippet: skip: pseudo-code of a migration -->', // 15
        '```ts', // 16
        'neither is this', // 17
        '```', // 18
      ].join('\n'),
    );
    const { code: exit, output } = await checkSnippets(fixture);
    expect(exit).toBe(1);
    const lines = output.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^test\/artifacts\/consumer\/fixture\.md:3: TS2305: .*ClientInfo/),
        expect.stringMatching(/^test\/artifacts\/consumer\/fixture\.md:9: TS2304: Cannot find name 'notDefinedAnywhere'/),
        expect.stringMatching(/^test\/artifacts\/consumer\/fixture\.md:11: .*needs a reason/),
        'test/artifacts/consumer/fixture.md:16: skipped (pseudo-code of a migration)',
      ]),
    );
    expect(lines.filter((line) => /fixture\.md:8:/.test(line))).toEqual([]);
    expect(output).toContain('doc snippets: 2 compiled (1 partial), 2 skipped, 3 problems');
  }, 60_000);
});

const SESSION_ENTITY_COUNT = 6;
