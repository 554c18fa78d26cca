import { Logger } from '@nestjs/common';
import { IsNull, Not } from 'typeorm';
import type {
  DataSource,
  EntityManager,
  EntityMetadata,
  EntitySubscriberInterface,
  InsertEvent,
  ObjectLiteral,
  QueryRunner,
  RecoverEvent,
  RemoveEvent,
  SoftRemoveEvent,
  TransactionCommitEvent,
  UpdateEvent,
} from 'typeorm';
import { LOGGER_CONTEXT } from '../session-revocation.constants.js';
import { newSessionToken } from '../utils/crypto.js';
import { getRotatingColumns, getSessionTokenProperty } from './entity-metadata.js';
import { sameValue } from '../utils/same-value.js';
import { randomTokenSql, sqlDialect } from './session-token-sql.js';

/** Told when a user's session token changed or a user row went away; `undefined` = unknown rows. */
export type SessionTokenChangeListener = (userId: string | undefined) => void;

const PENDING = Symbol('session-revocation:pending');

/** A row an INSERT may run into (upsert): its id, token and rotating values before the statement. */
interface RowBefore {
  id: unknown;
  token: unknown;
  values: unknown[];
}

/**
 * TypeORM subscriber that keeps `@SessionTokenColumn()` values right on every write path
 * a subscriber can see ("rotating columns" are the `@RevokesSessions()` ones and the
 * `@DeleteDateColumn()`):
 *
 * - insert: a new random token when none is given;
 * - upsert (`repository.upsert()`, `manager.upsert()`, `insert().orUpdate()`): the rows the
 *   INSERT can run into (same primary key or unique key) are read before it and again after;
 *   every row whose rotating column changed, or whose token became the value the insert
 *   carried, gets a new token (one UPDATE). TypeORM builds the ON CONFLICT clause out of a
 *   subscriber's reach, hence the second statement;
 * - `save()` of an entity or plain object: a new token when a rotating column changed;
 *   otherwise any token value on the object is dropped from the UPDATE, so a stale entity can
 *   never write an old token back;
 * - `update()`, `increment()`/`decrement()` and QueryBuilder `.update().set()`: when the SET
 *   touches a rotating column, the token is set to a per-row SQL random expression. A plain
 *   token value in the SET is never written (it would be a stale one spread from an entity);
 *   when it is the only column set, the token is regenerated instead;
 * - `restore()` / `recover()`: the restored rows get new tokens (for a QueryBuilder restore,
 *   whose rows a subscriber cannot see, every soft-deleted row does), so old sessions stay dead;
 * - `delete()`, `remove()`, `softDelete()`, `softRemove()`: the caches are told at once.
 *
 * Raw SQL and `callListeners(false)` are invisible here: install the trigger
 * (`createSessionTokenTriggerMigration`) for those.
 */
export class SessionTokenSubscriber implements EntitySubscriberInterface {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly listeners = new Set<SessionTokenChangeListener>();
  private warnedNoSql = false;
  private readonly before = new WeakMap<object, { rows: RowBefore[]; carried: unknown }>();

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

  async beforeInsert(event: InsertEvent<any>): Promise<void> {
    const tokenProperty = this.tokenProperty(event.metadata.target);
    if (!tokenProperty || !event.entity) return;
    const carried = event.entity[tokenProperty];
    const rotating = getRotatingColumns(event.metadata);
    if (carried !== undefined || rotating.some((c) => c.getEntityValue(event.entity) !== undefined)) {
      const rows = await this.conflictingRows(event.manager, event.metadata, event.entity, tokenProperty);
      if (rows.length > 0) this.before.set(event.entity, { rows, carried });
    }
    if (carried === undefined || carried === null) event.entity[tokenProperty] = newSessionToken();
  }

  /** Upsert: rotates the rows whose rotating columns the statement changed (see the class doc). */
  async afterInsert(event: InsertEvent<any>): Promise<void> {
    const before = event.entity ? this.before.get(event.entity) : undefined;
    if (!before) return;
    this.before.delete(event.entity);
    const tokenProperty = this.tokenProperty(event.metadata.target)!;
    const after = new Map((await this.readRows(event.manager, event.metadata, tokenProperty, before.rows.map((r) => r.id))).map((r) => [r.id, r]));
    const changed = before.rows
      .filter((old) => {
        const now = after.get(old.id);
        if (!now) return false;
        const wroteCarried = before.carried !== undefined && sameValue(now.token, before.carried) && !sameValue(old.token, before.carried);
        return wroteCarried || old.values.some((value, i) => !sameValue(value, now.values[i]));
      })
      .map((r) => r.id);
    if (changed.length === 0) return;
    await event.manager
      .createQueryBuilder()
      .update(event.metadata.target)
      .set({ [tokenProperty]: this.perRowToken() })
      .whereInIds(changed)
      .callListeners(false)
      .execute();
    for (const id of changed) this.changed(event.queryRunner, id);
  }

  /** Rows with the entity's primary key or one of its unique keys (what an upsert can conflict with). */
  private async conflictingRows(manager: EntityManager, metadata: EntityMetadata, entity: ObjectLiteral, tokenProperty: string): Promise<RowBefore[]> {
    const keys = [metadata.primaryColumns, ...metadata.uniques.map((u) => u.columns), ...metadata.indices.filter((i) => i.isUnique).map((i) => i.columns)];
    const where = keys.flatMap((columns) => {
      const values = columns.map((c) => c.getEntityValue(entity));
      if (columns.length === 0 || columns.some((c) => c.embeddedMetadata) || values.some((v) => v === undefined || v === null || typeof v === 'function')) return [];
      return [Object.fromEntries(columns.map((c, i) => [c.propertyName, values[i]]))];
    });
    if (where.length === 0 || metadata.primaryColumns.length !== 1) return [];
    return this.readRows(manager, metadata, tokenProperty, undefined, where);
  }

  private async readRows(manager: EntityManager, metadata: EntityMetadata, tokenProperty: string, ids?: unknown[], where?: ObjectLiteral[]): Promise<RowBefore[]> {
    const pk = metadata.primaryColumns[0];
    const rotating = getRotatingColumns(metadata);
    const qb = manager
      .createQueryBuilder(metadata.target, 'u')
      .withDeleted()
      .select([...new Set([pk.propertyPath, tokenProperty, ...rotating.map((c) => c.propertyPath)])].map((p) => `u.${p}`));
    const rows = await (ids ? qb.whereInIds(ids) : qb.where(where!)).getMany();
    return rows.map((row) => ({ id: pk.getEntityValue(row), token: row[tokenProperty], values: rotating.map((c) => c.getEntityValue(row)) }));
  }

  beforeUpdate(event: UpdateEvent<any>): void {
    const target = event.metadata.target;
    const tokenProperty = this.tokenProperty(target);
    if (!tokenProperty || !event.entity) return;
    const revoking = getRotatingColumns(event.metadata).map((c) => c.propertyName);
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
    if (this.tokenProperty(event.metadata.target)) this.changed(event.queryRunner, this.idOf(event));
  }

  afterSoftRemove(event: SoftRemoveEvent<any>): void {
    if (this.tokenProperty(event.metadata.target)) this.changed(event.queryRunner, this.idOf(event));
  }

  /**
   * A restored user must not get old sessions back: the restored row gets a new token. A
   * QueryBuilder `restore()` does not say which rows it restores, so every soft-deleted row
   * gets one (their sessions are refused while they are deleted anyway).
   */
  async beforeRecover(event: RecoverEvent<any>): Promise<void> {
    const tokenProperty = this.tokenProperty(event.metadata.target);
    const deleted = event.metadata.deleteDateColumn;
    if (!tokenProperty || !deleted) return;
    const id = this.idOf(event);
    const update = event.manager.createQueryBuilder().update(event.metadata.target).set({ [tokenProperty]: this.perRowToken() }).callListeners(false);
    await (id !== undefined ? update.whereInIds([id]) : update.where({ [deleted.propertyName]: Not(IsNull()) })).execute();
  }

  afterRecover(event: RecoverEvent<any>): void {
    if (this.tokenProperty(event.metadata.target)) this.changed(event.queryRunner, this.idOf(event));
  }

  /** The single-column primary key an entity event is about, if it says. */
  private idOf(event: RemoveEvent<any>): unknown {
    if (event.metadata.primaryColumns.length !== 1) return undefined;
    const fromEntity = event.entity ? event.metadata.primaryColumns[0].getEntityValue(event.entity) : undefined;
    const id = fromEntity ?? event.entityId;
    return id === null || typeof id === 'object' ? undefined : id;
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
