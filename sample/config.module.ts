import { Global, Module, type DynamicModule } from '@nestjs/common';
import { SAMPLE_CONFIG, type SampleConfig } from './config.js';

/** Makes the {@link SampleConfig} injectable everywhere as `SAMPLE_CONFIG`. */
@Global()
@Module({})
export class SampleConfigModule {
  static forRoot(config: SampleConfig): DynamicModule {
    return {
      module: SampleConfigModule,
      providers: [{ provide: SAMPLE_CONFIG, useValue: config }],
      exports: [SAMPLE_CONFIG],
    };
  }
}
