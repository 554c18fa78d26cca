#!/usr/bin/env node
/**
 * Type-checks every ```ts / ```typescript block of README.md and docs/**\/*.md against the packed
 * package, so the docs cannot drift from the API. Conventions (partial and skipped blocks):
 * CONTRIBUTING.md, "Code blocks in the docs".
 *
 *   node scripts/check-doc-snippets.mjs [--consumer DIR] [FILE.md ...]
 *
 * --consumer DIR: a folder where the packed tarball is installed (DIR/node_modules/<package>) and
 * whose parent folders' node_modules hold the peers (@nestjs/*, typeorm, ...), as the packaging
 * test prepares. Without it the script builds, packs and installs into test/artifacts/doc-snippets.
 * The blocks are written to DIR/snippets/ with a tsconfig.json (`npx tsc -p DIR/snippets` repeats
 * the check). Exit code 1 when a block does not compile or a marker is malformed.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const packageName = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).name;
const contextFile = join(root, 'scripts', 'doc-snippet-context.ts');
/** Where partial blocks' missing names come from, first match wins (the package's entry points come first). */
const otherProviders = ['./context.js', '@nestjs/common', '@nestjs/core', '@nestjs/jwt', '@nestjs/typeorm', '@nestjs/config',
  '@nestjs/event-emitter', '@nestjs/passport', '@nestjs/websockets', 'typeorm', 'rxjs'];
const LANGUAGES = new Set(['ts', 'typescript']);
const MARKER = /^<!--\s*snippet:\s*([a-z-]+)\b:?\s*(.*?)\s*-->$/;

/** The markdown files to check: README.md and docs/**\/*.md (not the generated docs/api). */
function defaultFiles() {
  const walk = (dir) =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return path === join(root, 'docs', 'api') ? [] : walk(path);
      return entry.name.endsWith('.md') ? [path] : [];
    });
  let docs = [];
  try {
    docs = walk(join(root, 'docs'));
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  return [join(root, 'README.md'), ...docs.sort()];
}

/**
 * The TypeScript blocks of one markdown file, with the marker on the line before each, and the
 * problems with markers (malformed, unknown, a skip without a reason, not before a ts block).
 */
function extractBlocks(file, text) {
  const lines = text.split(/\r?\n/);
  const blocks = [];
  const problems = [];
  const usedMarkers = new Set();
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, info] = open;
    let end = i + 1;
    while (end < lines.length && !new RegExp(`^\\s*${fence[0]}{${fence.length},}\\s*$`).test(lines[end])) end++;
    const language = info.trim().split(/\s+/)[0].toLowerCase();
    if (LANGUAGES.has(language)) {
      const code = lines.slice(i + 1, end).map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line.trimStart()));
      const block = { file, line: i + 1, code: code.join('\n'), mode: 'complete' };
      const marker = MARKER.exec(lines[i - 1]?.trim() ?? '');
      if (marker) {
        usedMarkers.add(i - 1);
        const [, kind, rest = ''] = marker;
        const reason = rest.replace(/^[-—–:(\s]+|\)$/g, '');
        if (kind === 'partial' && !rest) block.mode = 'partial';
        else if (kind === 'skip') Object.assign(block, { mode: 'skip', reason });
        else problems.push({ file, line: i, message: `unknown snippet marker "${lines[i - 1].trim()}" (partial or skip: reason)` });
      }
      if (block.mode === 'skip' && !/\w{3,}/.test(block.reason)) {
        problems.push({ file, line: i, message: '`<!-- snippet: skip -->` needs a reason: `<!-- snippet: skip: why it is not compiled -->`' });
      }
      blocks.push(block);
    }
    i = end;
  }
  lines.forEach((line, index) => {
    if (/^\s*<!--\s*snippet\b/.test(line) && !usedMarkers.has(index) && !problems.some((p) => p.line === index + 1)) {
      problems.push({ file, line: index + 1, message: 'snippet marker not understood (`<!-- snippet: partial -->`, `<!-- snippet: skip: why -->`) or not on the line right before a ```ts block' });
    }
  });
  return { blocks, problems };
}

/** Names a block declares at its top level, and every name it refers to. */
function namesOf(code) {
  const source = ts.createSourceFile('block.ts', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const declared = new Set();
  const bind = (name) => {
    if (!name) return;
    if (ts.isIdentifier(name)) declared.add(name.text);
    else if (ts.isObjectBindingPattern(name) || ts.isArrayBindingPattern(name)) name.elements.forEach((e) => ts.isBindingElement(e) && bind(e.name));
  };
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      bind(clause?.name);
      const named = clause?.namedBindings;
      if (named && ts.isNamespaceImport(named)) bind(named.name);
      else named?.elements.forEach((element) => bind(element.name));
    } else if (ts.isVariableStatement(statement)) statement.declarationList.declarations.forEach((d) => bind(d.name));
    else if ('name' in statement) bind(statement.name);
  }
  const used = new Set();
  const visit = (node) => {
    const parent = node.parent;
    const isMemberName =
      parent &&
      ((ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        (ts.isQualifiedName(parent) && parent.right === node) ||
        ((ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent) || ts.isMethodDeclaration(parent) ||
          ts.isPropertySignature(parent) || ts.isMethodSignature(parent) || ts.isAccessor(parent)) && parent.name === node));
    if (ts.isIdentifier(node) && !isMemberName) used.add(node.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { declared, used };
}

/** Builds the package, packs it and installs the tarball into `dir` (peers resolve from the repository's node_modules). */
function prepareConsumer(dir) {
  const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  run('npm', ['run', 'build', '--silent'], root);
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], root));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'doc-snippets', private: true, type: 'module' }));
  run('npm', ['install', '--legacy-peer-deps', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', join(dir, packed.filename)], dir);
}

/** The names every provider module exports, from a probe program compiled in the snippets folder. */
function providerExports(dir, options, host) {
  const installed = JSON.parse(readFileSync(join(dir, '..', 'node_modules', packageName, 'package.json'), 'utf8'));
  const entryPoints = Object.entries(installed.exports ?? { '.': installed.main })
    .filter(([subpath, target]) => !subpath.endsWith('.json') && !(typeof target === 'string' && target.endsWith('.json')))
    .map(([subpath]) => packageName + subpath.slice(1));
  const providers = [...entryPoints, ...otherProviders];
  const probe = join(dir, 'providers.probe.ts');
  writeFileSync(probe, providers.map((specifier, i) => `import * as p${i} from '${specifier}';`).join('\n') + '\n');
  const program = ts.createProgram({ rootNames: [probe], options, host });
  const checker = program.getTypeChecker();
  const statements = program.getSourceFile(probe).statements;
  const exports = [];
  statements.forEach((statement, i) => {
    const symbol = checker.getSymbolAtLocation(statement.moduleSpecifier);
    if (!symbol) return;
    // name => whether it is a value (a type-only name is imported with `type`, as isolatedModules wants).
    const names = new Map(
      checker.getExportsOfModule(symbol).map((s) => {
        const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
        return [s.name, (target.flags & ts.SymbolFlags.Value) !== 0];
      }),
    );
    exports.push({ specifier: providers[i], names });
  });
  rmSync(probe);
  return { exports, program };
}

/** The block with its relative imports (the app's own files, `./users.service.js`) served by the context file. */
function withContextImports(code) {
  const source = ts.createSourceFile('block.ts', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const relativeSpecifiers = source.statements
    .map((statement) => (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement) ? statement.moduleSpecifier : undefined))
    .filter((specifier) => specifier && ts.isStringLiteral(specifier) && /^\.\.?\//.test(specifier.text));
  return relativeSpecifiers
    .reverse()
    .reduce((text, specifier) => text.slice(0, specifier.getStart(source)) + "'./context.js'" + text.slice(specifier.end), code);
}

/** The file written for a block: a complete block as it is, a partial one after the imports it lacks. */
function snippetSource(block, providers) {
  const code = withContextImports(block.code);
  if (block.mode !== 'partial') return { text: code, offset: 0 };
  const { declared, used } = namesOf(code);
  const imports = new Map();
  for (const name of [...used].sort()) {
    if (declared.has(name)) continue;
    const provider = providers.find((p) => p.names.has(name));
    if (provider) imports.set(provider.specifier, [...(imports.get(provider.specifier) ?? []), provider.names.get(name) ? name : `type ${name}`]);
  }
  const prelude = [...imports].map(([specifier, names]) => `import { ${names.join(', ')} } from '${specifier}';`);
  return { text: [...prelude, code].join('\n'), offset: prelude.length };
}

/**
 * Checks the blocks of `files` in the consumer folder `consumer`. Returns the counts and the
 * problems (each `{ file, line, message }`, `line` in the markdown file).
 */
function checkDocSnippets({ consumer, files }) {
  const dir = join(consumer, 'snippets');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(contextFile, join(dir, 'context.ts'));
  const tsconfig = {
    compilerOptions: {
      module: 'nodenext', moduleResolution: 'nodenext', target: 'es2023', lib: ['es2023'], strict: true,
      strictPropertyInitialization: false, experimentalDecorators: true, emitDecoratorMetadata: true, esModuleInterop: true, isolatedModules: true,
      skipLibCheck: true, noEmit: true, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')],
    },
    include: ['*.ts'],
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  const { options } = ts.convertCompilerOptionsFromJson(tsconfig.compilerOptions, dir);
  const host = ts.createCompilerHost(options);
  // The probe and the check read the same declaration files: parse each once.
  const parsed = new Map();
  const readSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, ...rest) => {
    if (!fileName.includes('/node_modules/')) return readSourceFile(fileName, ...rest);
    if (!parsed.has(fileName)) parsed.set(fileName, readSourceFile(fileName, ...rest));
    return parsed.get(fileName);
  };

  const problems = [];
  const blocks = [];
  for (const file of files) {
    const extracted = extractBlocks(relative(root, resolve(file)), readFileSync(file, 'utf8'));
    blocks.push(...extracted.blocks);
    problems.push(...extracted.problems);
  }
  const { exports: providers, program: probe } = providerExports(dir, options, host);
  const written = new Map();
  for (const block of blocks.filter((b) => b.mode !== 'skip')) {
    const name = join(dir, `${block.file.replace(/[^A-Za-z0-9]+/g, '_')}_L${block.line}.ts`);
    const { text, offset } = snippetSource(block, providers);
    writeFileSync(name, text + '\n');
    written.set(name, { block, offset });
  }
  const program = ts.createProgram({ rootNames: [join(dir, 'context.ts'), ...written.keys()], options, host, oldProgram: probe });
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = `TS${diagnostic.code}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    const target = diagnostic.file && written.get(resolve(diagnostic.file.fileName));
    if (target) {
      const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      const blockLine = Math.max(line - target.offset, -1);
      problems.push({ file: target.block.file, line: target.block.line + 1 + blockLine, message, snippet: relative(root, diagnostic.file.fileName) });
    } else {
      problems.push({ file: diagnostic.file ? relative(root, diagnostic.file.fileName) : 'tsconfig', line: 0, message });
    }
  }
  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  if (blocks.length === 0) problems.push({ file: files.join(', '), line: 0, message: 'no ```ts block found' });
  return {
    checked: written.size,
    partial: [...written.values()].filter(({ block }) => block.mode === 'partial').length,
    skipped: blocks.filter((b) => b.mode === 'skip').map(({ file, line, reason }) => ({ file, line, reason })),
    problems,
  };
}

const args = process.argv.slice(2);
const at = args.indexOf('--consumer');
const consumer = at >= 0 ? resolve(args.splice(at, 2)[1]) : join(root, 'test', 'artifacts', 'doc-snippets');
if (at < 0) prepareConsumer(consumer);
const files = args.length > 0 ? args.map((f) => resolve(f)) : defaultFiles();
const result = checkDocSnippets({ consumer, files });
for (const p of result.problems) console.log(`${p.file}:${p.line}: ${p.message}${p.snippet ? `  [${p.snippet}]` : ''}`);
for (const s of result.skipped) console.log(`${s.file}:${s.line}: skipped (${s.reason})`);
console.log(
  `doc snippets: ${result.checked} compiled (${result.partial} partial), ${result.skipped.length} skipped, ${result.problems.length} problems`,
);
process.exitCode = result.problems.length > 0 ? 1 : 0;
