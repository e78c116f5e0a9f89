// Bootstrap of the PNG decoding worker (png-folder.ts): registers tsx, as bin/vaekit.js does, then loads the
// TypeScript worker, so it runs whatever the working directory and however the parent loaded tsx.
import { register } from 'tsx/esm/api';

register();
await import('./png-worker.ts');
