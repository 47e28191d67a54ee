#!/usr/bin/env node
// The `herald` command. Herald runs its TypeScript sources directly through tsx's loader,
// so there is no build step between `npm install` and `npm start`.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
