import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

describe('API reference (npm run docs)', () => {
  it('builds with TypeDoc, every export of every entry point documented', () => {
    const out = mkdtempSync(join(os.tmpdir(), 'typedoc-'));
    try {
      // typedoc.json: validation.notDocumented with treatValidationWarningsAsErrors, so an undocumented export fails here.
      const log = execFileSync(process.execPath, ['node_modules/typedoc/bin/typedoc', '--out', out, '--logLevel', 'Warn'], { encoding: 'utf8', stdio: 'pipe' });
      expect(log).not.toMatch(/does not have any documentation|error/i);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
