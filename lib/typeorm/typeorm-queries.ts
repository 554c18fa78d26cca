import { SessionStoreUnavailableError } from '../session-revocation.errors.js';

/** Rows an UPDATE or DELETE touched. @internal */
export function affected(result: { affected?: number | null }): number {
  return result.affected ?? 0;
}

/** Runs a read; a value the column type cannot hold names no row. Any other failure: the store is unavailable. @internal */
export async function read<T>(query: () => Promise<T>, notFound: T): Promise<T> {
  try {
    return await query();
  } catch (error) {
    if (isDataException(error)) return notFound;
    throw new SessionStoreUnavailableError(error);
  }
}

/** Runs a write; any failure means the store is unavailable (the caller fails closed). @internal */
export async function write<T>(query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (error) {
    throw new SessionStoreUnavailableError(error);
  }
}

/** SQLSTATE class 22 (data exception: out of range, invalid text representation, ...). @internal */
export function isDataException(error: unknown): boolean {
  const e = error as { code?: unknown; sqlState?: unknown; driverError?: { code?: unknown; sqlState?: unknown } } | null;
  const state = e?.driverError?.sqlState ?? e?.sqlState ?? e?.driverError?.code ?? e?.code;
  return typeof state === 'string' && state.length === 5 && state.startsWith('22');
}
