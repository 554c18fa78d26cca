import type { ValueTransformer } from 'typeorm';

/** Stores times as integer milliseconds (`bigint`) so comparisons work alike on every database. */
export const epochMs: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};
