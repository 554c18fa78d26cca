import { DataSource } from 'typeorm';
import { MemorySessionStore, SESSION_REVOCATION_ENTITIES, TypeOrmSessionStore } from '../lib/index.js';
import { describeSessionStoreConformance } from '../lib/storage/testing/session-store.conformance.js';
import { testDatabases } from './support/databases.js';
import { TestUser } from './support/test-app.js';

describeSessionStoreConformance('memory', async () => {
  const store = new MemorySessionStore({ autoCreateUsers: false });
  let next = 1;
  return { store, createUser: async () => store.addUser(next++), close: async () => {} };
});

describe.each(testDatabases())('%s', (_name, database) => {
  describeSessionStoreConformance(`TypeORM on ${_name}`, async () => {
    const db = database();
    const dataSource = new DataSource(await db.options([TestUser, ...SESSION_REVOCATION_ENTITIES]));
    await dataSource.initialize();
    let n = 0;
    return {
      store: new TypeOrmSessionStore(dataSource, TestUser),
      createUser: async () => (await dataSource.getRepository(TestUser).save({ email: `c${n++}-${Date.now()}@example.com`, passwordHash: 'h' })).id,
      close: async () => {
        await dataSource.destroy();
        await db.cleanup();
      },
    };
  });
});
