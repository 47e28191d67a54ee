export * from './codes.ts';
export * from './frames.ts';
export * from './codec.ts';
