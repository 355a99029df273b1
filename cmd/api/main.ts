import { main } from '../../internal/runtime/main.js';
import { build } from './build.js';

await main('api', (config, logger) => build({ config, logger }));
