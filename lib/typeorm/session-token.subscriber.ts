import { Logger } from '@nestjs/common';
import type { DataSource, EntitySubscriberInterface, InsertEvent, QueryRunner, RemoveEvent, SoftRemoveEvent, TransactionCommitEvent, UpdateEvent } from 'typeorm';
import { LOGGER_CONTEXT } from '../session-revocation.constants.js';
import { newSessionToken } from '../utils/crypto.js';
import { getRevokingProperties, getSessionTokenProperty } from './entity-metadata.js';
import { randomTokenSql, sqlDialect } from './session-token-sql.js';

/**
 * TypeORM subscriber that keeps `@SessionTokenColumn()` values right on every write path
 * a subscriber can see:
 *
 * - insert: a new random token when none is given;
 * - `save()` of an entity or plain object: a new token when a `@RevokesSessions()` column
 *   changed; otherwise any token value on the object is dropped from the UPDATE, so a stale
 *   entity can never write an old token back;
 * - `update()` and QueryBuilder `.update().set()`: when the SET touches a
 *   `@RevokesSessions()` column, the token is set to a per-row SQL random expression. A plain
 *   token value in the SET is never written (it would be a stale one spread from an entity);
 *   when it is the only column set, the token is regenerated instead.
 *
 * Raw SQL and `callListeners(false)` are invisible here: install the trigger
 * (`createSessionTokenTriggerMigration`) for those.
 */
/** Told when a user's session token changed or a user row went away; `undefined` = unknown rows. */
export type SessionTokenChangeListener = (userId: string | undefined) => void;

const PENDING = Symbol('session-revocation:pending');

export class SessionTokenSubscriber implements EntitySubscriberInterface {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly listeners = new Set<SessionTokenChangeListener>();
  private warnedNoSql = false;

  constructor(private readonly dataSource: DataSource) {}

  /** Registers the subscriber on a DataSource once. */
  static register(dataSource: DataSource): SessionTokenSubscriber {
    const existing = dataSource.subscribers.find((s): s is SessionTokenSubscriber => s instanceof SessionTokenSubscriber);
    if (existing) return existing;
    const subscriber = new SessionTokenSubscriber(dataSource);
    dataSource.subscribers.push(subscriber);
    return subscriber;
  }

  /** Adds a listener for token changes; returns its removal. */
  onChange(listener: SessionTokenChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  beforeInsert(event: InsertEvent<any>): void {
    const tokenProperty = this.tokenProperty(event.metadata.target);
    if (!tokenProperty || !event.entity) return;
    if (event.entity[tokenProperty] === undefined || event.entity[tokenProperty] === null) {
      event.entity[tokenProperty] = newSessionToken();
    }
  }

  beforeUpdate(event: UpdateEvent<any>): void {
    const target = event.metadata.target;
    const tokenProperty = this.tokenProperty(target);
    if (!tokenProperty || !event.entity) return;
    const revoking = getRevokingProperties(target as Function);
    if (event.databaseEntity !== undefined) {
      // Repository/EntityManager save(): TypeORM computed the changed columns for us.
      const changed = event.updatedColumns.map((c) => c.propertyName);
      if (revoking.some((p) => changed.includes(p))) {
        event.entity[tokenProperty] = newSessionToken();
      } else if (event.entity[tokenProperty] !== undefined && changed.includes(tokenProperty)) {
        delete event.entity[tokenProperty];
      }
      return;
    }
    // QueryBuilder update (also Repository.update()): event.entity is the SET object.
    const set = event.entity as Record<string, unknown>;
    if (tokenProperty in set && typeof set[tokenProperty] !== 'function') {
      // A plain token value is never written: it is an old value spread from a stale entity
      // (`repo.update(id, { ...user })`), or, alone in the SET, a request to rotate.
      const alone = Object.keys(set).length === 1;
      delete set[tokenProperty];
      if (alone) set[tokenProperty] = this.perRowToken();
    }
    if (tokenProperty in set) return; // an SQL expression the app chose
    if (revoking.some((p) => set[p] !== undefined)) set[tokenProperty] = this.perRowToken();
  }

  afterUpdate(event: UpdateEvent<any>): void {
    const tokenProperty = this.tokenProperty(event.metadata.target);
    if (!tokenProperty || !event.entity) return;
    if (event.databaseEntity !== undefined) {
      if (event.entity[tokenProperty] !== undefined) this.changed(event.queryRunner, event.metadata.primaryColumns[0]?.getEntityValue(event.entity));
    } else if (tokenProperty in event.entity) {
      this.changed(event.queryRunner, undefined);
    }
  }

  afterRemove(event: RemoveEvent<any>): void {
    if (this.tokenProperty(event.metadata.target)) this.changed(event.queryRunner, event.entityId ?? undefined);
  }

  afterSoftRemove(event: SoftRemoveEvent<any>): void {
    if (this.tokenProperty(event.metadata.target)) this.changed(event.queryRunner, undefined);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    const pending: Set<string | undefined> | undefined = (event.queryRunner as any)[PENDING];
    if (!pending) return;
    delete (event.queryRunner as any)[PENDING];
    for (const id of pending) this.notify(id);
  }

  /** Notifies now, and again after the transaction commits (a cache may have re-read the old row meanwhile). */
  private changed(queryRunner: QueryRunner, id: unknown): void {
    const userId = id === undefined || id === null || typeof id === 'object' ? undefined : String(id);
    this.notify(userId);
    if (queryRunner?.isTransactionActive) {
      const runner = queryRunner as any;
      (runner[PENDING] ??= new Set<string | undefined>()).add(userId);
    }
  }

  private notify(userId: string | undefined): void {
    for (const listener of this.listeners) {
      try {
        listener(userId);
      } catch (error) {
        this.logger.error(`session-token change listener failed: ${(error as Error)?.message}`);
      }
    }
  }

  private perRowToken(): (() => string) | string {
    const dialect = sqlDialect(this.dataSource);
    if (dialect) {
      const sql = randomTokenSql(dialect);
      return () => sql;
    }
    if (!this.warnedNoSql) {
      this.warnedNoSql = true;
      this.logger.warn(`No per-row random SQL for ${String(this.dataSource.options.type)}: bulk updates share one new session token`);
    }
    return newSessionToken();
  }

  private tokenProperty(target: unknown): string | undefined {
    return typeof target === 'function' ? getSessionTokenProperty(target) : undefined;
  }
}
