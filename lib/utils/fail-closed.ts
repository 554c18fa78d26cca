import { HttpException, Logger, ServiceUnavailableException } from '@nestjs/common';
import { LOGGER_CONTEXT } from '../session-revocation.constants.js';

const logger = new Logger(LOGGER_CONTEXT);

/**
 * Method decorator for async service methods: an error that is not an HTTP exception (the
 * database or the bus cannot answer) becomes a generic 503, logged without its parameters,
 * so a failing store never turns into a 500 or a pass.
 * @internal
 */
export function FailClosed(): MethodDecorator {
  return (_target, propertyKey, descriptor: PropertyDescriptor) => {
    const original = descriptor.value as (...args: unknown[]) => Promise<unknown>;
    descriptor.value = async function (this: unknown, ...args: unknown[]) {
      try {
        return await original.apply(this, args);
      } catch (error) {
        if (error instanceof HttpException) throw error;
        const reason = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0].slice(0, 200)}` : 'unknown error';
        logger.error(`${String(propertyKey)} failed, answering 503: ${reason}`);
        throw new ServiceUnavailableException();
      }
    };
    return descriptor;
  };
}
