import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
export const repositoryRoot = resolve(import.meta.dirname, '..', '..');

/** Runs a command; its output (not echoed) is returned. */
export async function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await exec(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, env: { ...process.env, npm_config_loglevel: 'error', ...env } });
  return stdout;
}

/**
 * Builds the library into a scratch copy of the package (so it never races a build of the
 * repository's own dist/), packs it with `npm pack` (the package.json `files` decide what goes
 * in) and installs only the tarball into a fresh app folder under test/artifacts/<name>/app.
 * Peers (Nest, TypeORM, drivers) resolve from the repository's node_modules above it.
 */
export async function packAndInstall(name: string): Promise<{ work: string; app: string; tarball: string }> {
  const work = join(repositoryRoot, 'test', 'artifacts', name);
  rmSync(work, { recursive: true, force: true });
  const pkg = join(work, 'package');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(repositoryRoot, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(repositoryRoot, 'README.md'), join(pkg, 'README.md'));
  await run(join(repositoryRoot, 'node_modules', '.bin', 'tsc'), ['-p', join(repositoryRoot, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], repositoryRoot);
  const packed = JSON.parse(await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], pkg));
  const tarball = join(work, packed[0].filename);
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: `${name}-app`, private: true, type: 'module' }));
  await run('npm', ['install', '--legacy-peer-deps', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', tarball], app);
  return { work, app, tarball };
}

/** Compiles `files` of `app` with a strict tsconfig against the installed package; returns the output folder. */
export async function compileApp(app: string, files: string[]): Promise<string> {
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext', moduleResolution: 'nodenext', target: 'es2023', strict: true, experimentalDecorators: true,
        emitDecoratorMetadata: true, skipLibCheck: false, types: ['node'], typeRoots: [join(repositoryRoot, 'node_modules', '@types')], outDir: 'out',
      },
      files,
    }),
  );
  await run(join(repositoryRoot, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], app);
  return join(app, 'out');
}
