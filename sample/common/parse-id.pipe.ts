import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';

const MAX_ID = 2_147_483_647;

/**
 * A positive 32-bit integer id from a route parameter; 400 otherwise. Stricter than
 * ParseIntPipe, which lets through values the database column cannot hold (PostgreSQL
 * would answer "integer out of range", a 500).
 *
 * Note: the global ValidationPipe (`transform: true`) runs first and already turns a
 * parameter typed `number` into one with `Number(value)`, so numeric spellings such as
 * `1e3` arrive here as 1000 and are accepted; what is not a whole number in range is not.
 */
@Injectable()
export class ParseIdPipe implements PipeTransform<unknown, number> {
  transform(value: unknown): number {
    const id = typeof value === 'number' ? value : typeof value === 'string' && /^[1-9]\d{0,9}$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(id) || id < 1 || id > MAX_ID) throw new BadRequestException('Validation failed (positive integer id expected)');
    return id;
  }
}
