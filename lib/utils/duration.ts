const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses a duration such as `'15m'`, `'30d'`, `'500ms'` or a number of seconds into milliseconds.
 * Returns `undefined` when the value is not a valid positive duration.
 */
export function parseDuration(value: string | number | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/i.exec(value);
  if (!match) return undefined;
  const ms = Number(match[1]) * UNITS[match[2].toLowerCase()];
  return ms > 0 ? ms : undefined;
}
