#!/usr/bin/env node
// The `vaekit` command: runs the TypeScript CLI through tsx, no build step.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv.slice(2));
