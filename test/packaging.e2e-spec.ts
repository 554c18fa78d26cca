import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const work = join(root, 'test', 'artifacts', 'consumer');
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' } });

describe('npm package', () => {
  beforeAll(() => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
  });

  it('packs dist with type declarations and installs into a Nest app that compiles and runs against it', () => {
    run('npm', ['run', 'build'], root);
    const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], root));
    const files: string[] = packed[0].files.map((f: { path: string }) => f.path);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files.some((f) => f.startsWith('lib/') || f.startsWith('sample/') || f.startsWith('test/') || f.endsWith('.spec.js'))).toBe(false);

    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    // Peers resolve from the repository's node_modules (parent folders); only the tarball is installed.
    run('npm', ['install', '--legacy-peer-deps', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', join(work, packed[0].filename)], app);
    expect(readdirSync(join(app, 'node_modules')).filter((f) => !f.startsWith('.'))).toEqual(['nestjs-session-revocation']);

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
          emitDecoratorMetadata: true, skipLibCheck: false, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')], outDir: 'out',
        },
        files: ['main.ts'],
      }),
    );
    run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], app);
    const out = JSON.parse(run(process.execPath, [join(app, 'out', 'main.js')], app));
    expect(out).toEqual({ module: 'function', entities: SESSION_ENTITY_COUNT });
  }, 120_000);
});

const SESSION_ENTITY_COUNT = 4;
