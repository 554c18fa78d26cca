import { BadRequestException, Injectable, ServiceUnavailableException, type OnModuleDestroy } from '@nestjs/common';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Lowest zxcvbn score accepted: 3, "safely unguessable" (about 10^8 guesses and more). */
export const PASSWORD_MIN_SCORE = 3;
/** Characters zxcvbn reads: its matchers grow faster than linearly; what follows only adds strength. */
const STRENGTH_MAX_LENGTH = 64;
/** Checks waiting for the worker before new ones are refused (503). */
const MAX_PENDING = 100;

/**
 * The estimator, in a worker thread: one check of a crafted 64-character pattern takes zxcvbn
 * tens of milliseconds, which must not stall the event loop. Plain CommonJS (an eval worker),
 * so it runs the same from the TypeScript sources and from the build.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { ZxcvbnFactory } = require(workerData.core);
const { dictionary, adjacencyGraphs } = require(workerData.common);
const zxcvbn = new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs, maxLength: workerData.maxLength });
parentPort.on('message', ({ id, password, userInputs }) => {
  parentPort.postMessage({ id, score: zxcvbn.check(password, userInputs).score });
});
`;

/**
 * What a new password must pass (ASVS 5.0 6.2.4, 6.2.11) besides its length (8 to 128, checked
 * by validation): it does not contain the account's email or its name part, and zxcvbn-ts
 * (with its maintained list of common passwords, and the email's parts as context) scores it
 * at least {@link PASSWORD_MIN_SCORE}. `password`, `12345678`, `aaaaaaaa` and the like fail.
 */
@Injectable()
export class PasswordPolicy implements OnModuleDestroy {
  private worker?: Worker;
  private readonly pending = new Map<number, { resolve(score: number): void; reject(error: Error): void }>();
  private nextId = 0;

  /**
   * Resolves when `password` is acceptable for the account `email`; otherwise throws a 400
   * `{statusCode, message: ['<field> …'], error}` naming `field` (as validation errors do).
   */
  async check(password: string, email: string, field = 'password'): Promise<void> {
    const lower = password.toLowerCase();
    const local = email.slice(0, email.lastIndexOf('@'));
    if (lower.includes(email) || (local.length >= 3 && lower.includes(local))) {
      throw new BadRequestException([`${field} must not contain your email address or its name part`]);
    }
    const userInputs = [email, ...email.split(/[^\p{L}\p{N}]+/u).filter((part) => part.length >= 3)];
    if ((await this.score(password, userInputs)) < PASSWORD_MIN_SCORE) {
      throw new BadRequestException([
        `${field} is too easy to guess (a common password, a simple pattern or close to one): use a longer passphrase of unrelated words`,
      ]);
    }
  }

  onModuleDestroy(): Promise<number> | undefined {
    return this.worker?.terminate();
  }

  private score(password: string, userInputs: string[]): Promise<number> {
    if (this.pending.size >= MAX_PENDING) throw new ServiceUnavailableException('Too many password checks at once: try again shortly');
    const worker = this.worker ?? this.startWorker();
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, password, userInputs });
    });
  }

  private startWorker(): Worker {
    const require = createRequire(import.meta.url);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { core: require.resolve('@zxcvbn-ts/core'), common: require.resolve('@zxcvbn-ts/language-common'), maxLength: STRENGTH_MAX_LENGTH },
    });
    worker.unref();
    worker.on('message', ({ id, score }: { id: number; score: number }) => {
      this.pending.get(id)?.resolve(score);
      this.pending.delete(id);
    });
    // A dead worker fails its checks closed (503) and is started again by the next one.
    const fail = () => {
      if (this.worker === worker) this.worker = undefined;
      for (const { reject } of this.pending.values()) reject(new ServiceUnavailableException('Password check unavailable: try again shortly'));
      this.pending.clear();
    };
    worker.on('error', fail).on('exit', fail);
    this.worker = worker;
    return worker;
  }
}
