import { Inject } from '@nestjs/common';
import { SESSION_REVOCATION_CONFIG } from './session-revocation.constants.js';

/**
 * Injects the module's resolved options (`ResolvedSessionRevocationOptions`): for guard
 * subclasses and an app's own providers.
 *
 * ```ts
 * constructor(@InjectSessionRevocationOptions() private readonly options: ResolvedSessionRevocationOptions) {}
 * ```
 */
export const InjectSessionRevocationOptions = (): ParameterDecorator & PropertyDecorator => Inject(SESSION_REVOCATION_CONFIG);
